//! The center's components: the bell that opens the panel, the panel, one item.

mod bell;
mod item;
mod panel;

pub use bell::Bell;
pub use item::Item;
pub use panel::Panel;

use leptos::prelude::*;

use crate::center::Center;

/// The whole notification center: bell, panel and the live region.
#[component]
pub fn NotificationCenter(
    /// The center's state.
    center: Center,
) -> impl IntoView {
    view! {
        <div class="tidings">
            <Bell center=center />
            <Panel center=center />
            <div class="tidings-sr-only" aria-live="polite" role="status">
                {move || center.announcement.get()}
            </div>
        </div>
    }
}
