//! The center's components: the bell that opens the panel, the panel, one
//! item, the preferences sheet, urgent toasts and storefront watch buttons.

mod bell;
mod item;
mod panel;
mod prefs;
mod toast;
mod watch;

pub use bell::Bell;
pub use item::{safe_link, Item};
pub use panel::{Panel, PAGE_SIZE};
pub use prefs::{hhmm, parse_hhmm, PrefsSheet};
pub use toast::Toasts;
pub use watch::WatchButtons;

use leptos::prelude::*;

use crate::center::Center;

/// The whole notification center: bell, panel, toasts and the live region.
#[component]
pub fn NotificationCenter(
    /// The center's state.
    center: Center,
) -> impl IntoView {
    // Relative times ("2 min ago") and expiry follow the clock.
    let tick = move || {
        let now = crate::center::now_ms();
        center.now.set(now);
        center.drop_expired(now);
    };
    tick();
    let handle = set_interval_with_handle(tick, std::time::Duration::from_secs(30)).ok();
    on_cleanup(move || {
        if let Some(h) = handle {
            h.clear();
        }
    });
    view! {
        <div class="tidings">
            <Bell center=center />
            <Panel center=center />
            <Toasts center=center />
            <div class="tidings-sr-only" aria-live="polite" role="status">
                {move || center.announcement.get()}
            </div>
        </div>
    }
}
