//! One notification in the panel. Its text is rendered as text, never as HTML.

use leptos::prelude::*;
use tidings_core::notification::{Notification, Priority, ReadState};

use crate::center::Center;
use crate::i18n::{self, Text};

/// `true` for links the center may open: same-origin paths and https URLs.
pub fn safe_link(link: &str) -> bool {
    let ok_chars = !link.chars().any(|c| c.is_control() || c == '\\');
    ok_chars && ((link.starts_with('/') && !link.starts_with("//")) || link.starts_with("https://"))
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
    let open_item = move |_| {
        if state == ReadState::Unread {
            center.mark(vec![id_read.clone()], ReadState::Read);
        }
    };
    let title_text = move || title.get(locale.get()).to_owned();
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
                <p class="tidings-body">{move || body.get(locale.get()).to_owned()}</p>
                <span class="tidings-meta">
                    <span class="tidings-category">{move || i18n::category(locale.get(), category)}</span>
                    {urgent.then(|| view! { <span class="tidings-urgent">{move || i18n::t(locale.get(), Text::Urgent)}</span> })}
                    <time class="tidings-time">{move || i18n::relative_time(locale.get(), center.now.get(), created_at)}</time>
                </span>
            </div>
            <div class="tidings-actions">
                <button type="button" class="tidings-toggle" on:click=move |_| {
                    center.mark(vec![id_toggle.clone()], next);
                }>
                    {move || i18n::t(locale.get(), toggle_text)}
                </button>
                {(state != ReadState::Archived).then(|| view! {
                    <button type="button" class="tidings-archive" on:click=move |_| center.mark(vec![id_archive.clone()], ReadState::Archived)>
                        {move || i18n::t(locale.get(), Text::Archive)}
                    </button>
                })}
            </div>
        </li>
    }
}
