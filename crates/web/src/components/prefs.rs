//! The preferences sheet: muted categories (account and security locked on),
//! quiet hours, language. Saving sends `ClientFrame::Prefs`.

use leptos::prelude::*;
use tidings_core::notification::{Category, Locale};
use tidings_core::prefs::{Preferences, QuietHours};

use super::tr;
use crate::center::Center;
use crate::i18n::{self, Text};

/// "HH:MM" for minutes after midnight.
pub fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Minutes after midnight from "HH:MM".
pub fn parse_hhmm(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.get(..2).unwrap_or(m).parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// The browser's offset from UTC in minutes (e.g. +480 in Shanghai).
fn local_offset() -> i16 {
    (-js_sys::Date::new_0().get_timezone_offset()) as i16
}

/// The sheet; edits a draft and saves it as a whole.
#[component]
pub fn PrefsSheet(
    /// The center's state.
    center: Center,
    /// Called after saving or going back.
    on_done: Callback<()>,
) -> impl IntoView {
    let locale = center.locale;
    let current = center.prefs.get_untracked();
    let muted = RwSignal::new(current.muted.clone());
    let quiet_on = RwSignal::new(current.quiet_hours.is_some());
    let q = current.quiet_hours.unwrap_or(QuietHours {
        start_minute: 22 * 60,
        end_minute: 7 * 60,
    });
    let start = RwSignal::new(hhmm(q.start_minute));
    let end = RwSignal::new(hhmm(q.end_minute));
    // The language shown (mount's `locale` until the shopper picks one).
    let shown = locale.get_untracked();
    let lang = RwSignal::new(shown);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let quiet_hours = if quiet_on.get_untracked() {
            match (
                parse_hhmm(&start.get_untracked()),
                parse_hhmm(&end.get_untracked()),
            ) {
                (Some(s), Some(e)) => Some(QuietHours {
                    start_minute: s,
                    end_minute: e,
                }),
                _ => None,
            }
        } else {
            None
        };
        let prefs = Preferences {
            // `retain`, not `filter().collect()`: collecting into a set sorts, which
            // would link a stable sort into the center for a handful of categories.
            muted: {
                let mut m = muted.get_untracked();
                m.retain(|c| c.can_be_muted());
                m
            },
            quiet_hours,
            utc_offset_minutes: local_offset().clamp(-840, 840),
            // Picked: changed here, or chosen before. Saving other settings on a page
            // whose language was never picked leaves the choice to the page.
            locale: {
                let lang = lang.get_untracked();
                (current.locale.is_some() || lang != shown).then_some(lang)
            },
        };
        center.save_prefs(prefs);
        center
            .announcement
            .set(i18n::t(lang.get_untracked(), Text::Saved).to_owned());
        on_done.run(());
    };
    view! {
        <form class="tidings-prefs" on:submit=save>
            <fieldset>
                <legend>{tr(locale, Text::MuteCategories)}</legend>
                {Category::ALL.into_iter().filter(|c| *c != Category::Ops).map(|c| {
                    let locked = !c.can_be_muted();
                    view! {
                        <label class="tidings-check">
                            <input type="checkbox" class="tidings-pref-category" data-category=c.as_str()
                                disabled=locked
                                prop:checked=move || locked || !muted.with(|m| m.contains(&c))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    muted.update(|m| { if on { m.remove(&c); } else { m.insert(c); } });
                                }
                            />
                            {move || i18n::category(locale.get(), c)}
                            {locked.then(|| view! { <span class="tidings-locked">{move || format!(" ({})", i18n::t(locale.get(), Text::AlwaysOn))}</span> })}
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <fieldset>
                <legend>{tr(locale, Text::QuietHours)}</legend>
                <label class="tidings-check">
                    <input type="checkbox" class="tidings-quiet-on" prop:checked=move || quiet_on.get()
                        on:change=move |ev| quiet_on.set(event_target_checked(&ev)) />
                    {tr(locale, Text::QuietHours)}
                </label>
                <label>
                    {tr(locale, Text::QuietStart)}" "
                    <input type="time" class="tidings-quiet-start" disabled=move || !quiet_on.get()
                        prop:value=move || start.get() on:input=move |ev| start.set(event_target_value(&ev)) />
                </label>
                <label>
                    {tr(locale, Text::QuietEnd)}" "
                    <input type="time" class="tidings-quiet-end" disabled=move || !quiet_on.get()
                        prop:value=move || end.get() on:input=move |ev| end.set(event_target_value(&ev)) />
                </label>
            </fieldset>
            <label>
                {tr(locale, Text::Language)}" "
                <select class="tidings-pref-lang" on:change=move |ev| lang.set(if event_target_value(&ev) == "zh" { Locale::Zh } else { Locale::En })>
                    <option value="en" selected=move || lang.get() == Locale::En>{i18n::language_name(Locale::En)}</option>
                    <option value="zh" selected=move || lang.get() == Locale::Zh>{i18n::language_name(Locale::Zh)}</option>
                </select>
            </label>
            <div class="tidings-prefs-actions">
                <button type="submit" class="tidings-prefs-save">{tr(locale, Text::Save)}</button>
                <button type="button" class="tidings-prefs-back" on:click=move |_| on_done.run(())>{tr(locale, Text::Back)}</button>
            </div>
        </form>
    }
}
