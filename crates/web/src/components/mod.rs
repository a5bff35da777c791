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
use tidings_core::notification::{Locale, Localized};

use crate::center::Center;
use crate::i18n::{self, Text};

/// The UI string `text` in the center's language, as reactive text. Every label goes through
/// this one function, so they all share one closure type and the renderer's code for a
/// reactive text is generated once, not once per label (the bundle is smaller for it).
pub(crate) fn tr(
    locale: RwSignal<Locale>,
    text: Text,
) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    move || i18n::t(locale.get(), text)
}

/// A notification's `text` in the center's language, as reactive text (one closure type
/// for every title and body, as with [`tr`]).
pub(crate) fn localized(
    locale: RwSignal<Locale>,
    text: Localized,
) -> impl Fn() -> String + Send + Sync + 'static {
    move || text.get(locale.get()).to_owned()
}

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
