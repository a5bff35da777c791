//! Urgent items as dismissable toasts, in a `role="alert"` region.

use leptos::prelude::*;

use super::{localized, tr};
use crate::center::Center;
use crate::i18n::Text;

/// The alert region with one toast per urgent item not yet dismissed.
#[component]
pub fn Toasts(
    /// The center's state.
    center: Center,
) -> impl IntoView {
    let locale = center.locale;
    view! {
        <div class="tidings-toasts" role="alert">
            <For
                each=move || center.toasts.get()
                // The panel's key type (a toast's copy never changes state): both lists
                // share one keyed-list implementation in the bundle.
                key=|n| (n.id.clone(), n.seq, n.state)
                children=move |n| {
                    let id = n.id.clone();
                    let title = n.title.clone();
                    let body = n.body.clone();
                    view! {
                        <div class="tidings-toast" data-id=n.id.clone()>
                            <strong class="tidings-toast-title">{localized(locale, title)}</strong>
                            <p class="tidings-toast-body">{localized(locale, body)}</p>
                            <button type="button" class="tidings-toast-dismiss" on:click=move |_| center.dismiss_toast(&id)>
                                {tr(locale, Text::Dismiss)}
                            </button>
                        </div>
                    }
                }
            />
        </div>
    }
}
