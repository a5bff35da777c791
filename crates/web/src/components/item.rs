//! One notification in the panel. Its text is rendered as text, never as HTML.

use leptos::prelude::*;
use tidings_core::notification::{Notification, Priority, ReadState};

use super::{localized, tr};
use crate::center::Center;
use crate::i18n::{self, Text};

/// `true` for links the center may open: same-origin paths and https URLs.
pub fn safe_link(link: &str) -> bool {
    let ok_chars = !link.chars().any(|c| c.is_control() || c == '\\');
    ok_chars && ((link.starts_with('/') && !link.starts_with("//")) || link.starts_with("https://"))
}

/// After an action the item is drawn anew (its key includes its state), which drops the
/// focus on the clicked button: on the next frame, focus the same button of the same item,
/// or, when the item left the view (archived, or read under "unread only"), the item now in
/// its place, or else the panel, so a keyboard user keeps their place.
fn keep_focus(ev: &leptos::ev::MouseEvent, id: String, button: &'static str) {
    use wasm_bindgen::JsCast;
    let Some(list) = ev
        .current_target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|b| b.closest(".tidings-list").ok().flatten())
    else {
        return;
    };
    let panel = list.closest(".tidings-panel").ok().flatten();
    let index = item_index(&list, &id);
    request_animation_frame(move || {
        let items = list.children();
        let focus = |el: Option<web_sys::Element>| {
            el.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                .map(|e| e.focus().is_ok())
                .unwrap_or(false)
        };
        let find = |item: web_sys::Element, class: &str| {
            item.query_selector(&format!(".{class}")).ok().flatten()
        };
        if let Some(item) = item_index(&list, &id).and_then(|i| items.item(i)) {
            if focus(find(item, button)) {
                return;
            }
        }
        let len = items.length();
        let near = index.map(|i| i.min(len.saturating_sub(1)));
        if let Some(item) = near.filter(|_| len > 0).and_then(|i| items.item(i)) {
            if focus(find(item, "tidings-toggle")) {
                return;
            }
        }
        focus(panel);
    });
}

/// The position of the item with `data-id` = `id` among the list's children.
fn item_index(list: &web_sys::Element, id: &str) -> Option<u32> {
    let items = list.children();
    (0..items.length()).find(|&i| {
        items
            .item(i)
            .and_then(|e| e.get_attribute("data-id"))
            .is_some_and(|d| d == id)
    })
}

/// One item: icon, title, body, time, actions.
#[component]
pub fn Item(
    /// The center's state.
    center: Center,
    /// The notification shown.
    notification: Notification,
) -> impl IntoView {
    let locale = center.locale;
    let id = notification.id.clone();
    let state = notification.state;
    let link = notification.link.clone().filter(|l| safe_link(l));
    let title = notification.title.clone();
    let body = notification.body.clone();
    let category = notification.category;
    let created_at = notification.created_at;
    let urgent = notification.priority == Priority::Urgent;
    let class = match state {
        ReadState::Unread => "tidings-item unread",
        ReadState::Read => "tidings-item",
        ReadState::Archived => "tidings-item archived",
    };
    let (id_read, id_toggle, id_archive) = (id.clone(), id.clone(), id.clone());
    let open_item = move |ev: leptos::ev::MouseEvent| {
        if state == ReadState::Unread {
            center.mark(vec![id_read.clone()], ReadState::Read);
            // Marked read, the item is drawn anew: the keyboard stays on its title.
            keep_focus(&ev, id_read.clone(), "tidings-title");
        }
    };
    let title_text = localized(locale, title.clone());
    // Screen readers hear which item a button acts on ("Archive: Order #1001 shipped").
    let label = move |action: Text| {
        let title = title.clone();
        move || {
            format!(
                "{}: {}",
                i18n::t(locale.get(), action),
                title.get(locale.get())
            )
        }
    };
    let (toggle_text, next) = match state {
        ReadState::Unread => (Text::MarkRead, ReadState::Read),
        ReadState::Read => (Text::MarkUnread, ReadState::Unread),
        ReadState::Archived => (Text::Restore, ReadState::Read),
    };
    view! {
        <li class=class data-id=id.clone() data-seq=notification.seq.to_string()>
            <span class="tidings-icon" aria-hidden="true">{i18n::icon(category)}</span>
            <div class="tidings-text">
                {match link {
                    Some(href) => view! {
                        <a class="tidings-title" href=href on:click=open_item>{title_text}</a>
                    }.into_any(),
                    // Without a link, clicking the title still marks the item read.
                    None => view! {
                        <button type="button" class="tidings-title tidings-title-plain" on:click=open_item>{title_text}</button>
                    }.into_any(),
                }}
                <p class="tidings-body">{localized(locale, body)}</p>
                <span class="tidings-meta">
                    <span class="tidings-category">{move || i18n::category(locale.get(), category)}</span>
                    {urgent.then(|| view! { <span class="tidings-urgent">{tr(locale, Text::Urgent)}</span> })}
                    <time class="tidings-time">{move || i18n::relative_time(locale.get(), center.now.get(), created_at)}</time>
                </span>
            </div>
            <div class="tidings-actions">
                <button type="button" class="tidings-toggle" aria-label=label(toggle_text) on:click=move |ev| {
                    center.mark(vec![id_toggle.clone()], next);
                    keep_focus(&ev, id_toggle.clone(), "tidings-toggle");
                }>
                    {tr(locale, toggle_text)}
                </button>
                {(state != ReadState::Archived).then(|| view! {
                    <button type="button" class="tidings-archive" aria-label=label(Text::Archive) on:click=move |ev| {
                        center.mark(vec![id_archive.clone()], ReadState::Archived);
                        keep_focus(&ev, id_archive.clone(), "tidings-archive");
                    }>
                        {tr(locale, Text::Archive)}
                    </button>
                })}
            </div>
        </li>
    }
}
