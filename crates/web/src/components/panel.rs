//! The panel: a labelled dialog listing notifications.

use leptos::prelude::*;
use tidings_core::notification::ReadState;

use crate::center::{Center, Status};
use crate::components::Item;
use crate::i18n::{self, Text};

/// The dialog listing notifications; Escape closes it.
#[component]
pub fn Panel(
    /// The center's state.
    center: Center,
) -> impl IntoView {
    let locale = center.locale;
    let visible = move || {
        center
            .items
            .get()
            .into_iter()
            .filter(|n| n.state != ReadState::Archived)
            .collect::<Vec<_>>()
    };
    view! {
        <Show when=move || center.open.get()>
            <div
                class="tidings-panel"
                role="dialog"
                aria-labelledby="tidings-heading"
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Escape" {
                        center.open.set(false);
                    }
                }
            >
                <header>
                    <h2 id="tidings-heading">{move || i18n::t(locale.get(), Text::Notifications)}</h2>
                    <span class=move || format!("tidings-status {:?}", center.status.get()).to_lowercase()>
                        {move || i18n::t(locale.get(), match center.status.get() {
                            Status::Live => Text::Live,
                            Status::Reconnecting => Text::Reconnecting,
                            Status::Offline => Text::Offline,
                        })}
                    </span>
                    <button type="button" class="tidings-mark-all" on:click=move |_| center.mark_all_read()>
                        {move || i18n::t(locale.get(), Text::MarkAllRead)}
                    </button>
                    <button type="button" class="tidings-close" on:click=move |_| center.open.set(false)>
                        {move || i18n::t(locale.get(), Text::Close)}
                    </button>
                </header>
                <ul class="tidings-list">
                    <For
                        each=visible
                        key=|n| (n.id.clone(), n.seq, n.state)
                        children=move |n| view! { <Item center=center notification=n /> }
                    />
                </ul>
                <Show when=move || visible().is_empty()>
                    <p class="tidings-empty">{move || i18n::t(locale.get(), Text::Empty)}</p>
                </Show>
            </div>
        </Show>
    }
}
