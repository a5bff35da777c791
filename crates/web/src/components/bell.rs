//! The bell button with its unread badge.

use leptos::html;
use leptos::prelude::*;

use crate::center::Center;
use crate::i18n;

/// A button with the unread count; toggles the panel.
#[component]
pub fn Bell(
    /// The center's state.
    center: Center,
) -> impl IntoView {
    let unread = Memo::new(move |_| center.unread());
    let bell = NodeRef::<html::Button>::new();
    bell.on_load(move |el| {
        let el: web_sys::HtmlElement = el.into();
        center.set_bell(el);
    });
    view! {
        <button
            type="button"
            class="tidings-bell"
            node_ref=bell
            aria-haspopup="dialog"
            aria-controls=center.dom_id("tidings-panel")
            aria-expanded=move || center.open.get().to_string()
            aria-label=move || i18n::bell_label(center.locale.get(), unread.get())
            on:click=move |_| center.open.update(|o| *o = !*o)
            on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                if ev.key() == "Escape" && center.open.get_untracked() {
                    center.close_panel();
                }
            }
        >
            <span aria-hidden="true">"🔔"</span>
            <Show when=move || { unread.get() > 0 }>
                <span class="tidings-badge" aria-hidden="true">{move || i18n::badge(unread.get())}</span>
            </Show>
        </button>
    }
}
