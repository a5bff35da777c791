//! The panel: a labelled dialog with tabs, filters, search, sort, paging and
//! the list, answered by `tidings_core::inbox::Inbox::query`.

use leptos::html;
use leptos::prelude::*;
use tidings_core::inbox::{Query, Sort, StateFilter};
use tidings_core::notification::{Category, Locale, Notification, Priority};
use wasm_bindgen::JsCast;

use crate::center::{Center, Status};
use crate::components::{tr, Item, PrefsSheet};
use crate::i18n::{self, Text};

/// Items per page ("load more" fetches the next page through the query cursor).
pub const PAGE_SIZE: usize = 20;

/// The category tabs: label and the categories each shows (empty = all).
pub fn tabs() -> Vec<(Option<Category>, Vec<Category>)> {
    vec![
        (None, vec![]),
        (Some(Category::Order), vec![Category::Order]),
        (Some(Category::Payment), vec![Category::Payment]),
        (Some(Category::Stock), vec![Category::Stock]),
        (Some(Category::Price), vec![Category::Price]),
        (Some(Category::Promo), vec![Category::Promo]),
        (
            Some(Category::Account),
            vec![Category::Account, Category::Security],
        ),
    ]
}

fn tab_label(locale: Locale, tab: Option<Category>) -> &'static str {
    match tab {
        None => i18n::t(locale, Text::All),
        Some(Category::Account) => i18n::t(locale, Text::AccountTab),
        Some(c) => i18n::category(locale, c),
    }
}

/// The dialog listing notifications; Escape closes it and focus returns to the bell.
#[component]
pub fn Panel(
    /// The center's state.
    center: Center,
) -> impl IntoView {
    let locale = center.locale;
    let tab = RwSignal::new(0usize);
    let unread_only = RwSignal::new(false);
    let archived = RwSignal::new(false);
    let min_priority = RwSignal::new(None::<Priority>);
    let text = RwSignal::new(String::new());
    let sort = RwSignal::new(Sort::Newest);
    let pages = RwSignal::new(1usize);
    let show_prefs = RwSignal::new(false);

    // Any change of filter starts again from the first page.
    Effect::new(move |_| {
        tab.track();
        unread_only.track();
        archived.track();
        min_priority.track();
        text.track();
        sort.track();
        pages.set(1);
    });

    let query = move || Query {
        categories: tabs()[tab.get()].1.clone(),
        state: if archived.get() {
            StateFilter::Archived
        } else if unread_only.get() {
            StateFilter::Unread
        } else {
            StateFilter::Inbox
        },
        min_priority: min_priority.get(),
        text: Some(text.get()).filter(|t| !t.trim().is_empty()),
        sort: sort.get(),
        limit: PAGE_SIZE,
        cursor: None,
    };
    // Pages 1..=pages, each continuing from the previous page's cursor.
    let listed = Memo::new(move |_| {
        let mut q = query();
        let now = center.now.get();
        let want = pages.get();
        center.inbox.with(|inbox| {
            let mut out: Vec<Notification> = Vec::new();
            let mut more = false;
            for _ in 0..want {
                let page = inbox.query(&q, now);
                out.extend(page.items.into_iter().cloned());
                match page.next {
                    Some(next) => {
                        q.cursor = Some(next);
                        more = true;
                    }
                    None => {
                        more = false;
                        break;
                    }
                }
            }
            (out, more)
        })
    });
    let visible = move || listed.with(|(items, _)| items.clone());
    let has_more = move || listed.with(|(_, more)| *more);
    let load_more = move || {
        if has_more() {
            pages.update(|p| *p += 1);
        }
    };

    let panel = NodeRef::<html::Div>::new();
    let search = NodeRef::<html::Input>::new();
    // A closed panel reopens on its list, with the search box to take the focus, whatever
    // sheet it was closed on.
    Effect::new(move |_| {
        if !center.open.get() {
            show_prefs.set(false);
        }
    });
    // When the panel opens, focus moves into it (the search box).
    Effect::new(move |_| {
        if let Some(input) = search.get() {
            let _ = input.focus();
        } else if let Some(div) = panel.get() {
            let _ = div.focus();
        }
    });

    // The next page, by the button or by scrolling to the end. "Load more" goes with the last
    // page: the focus it held moves to the first item that page brought (the dialog
    // meanwhile), not to the page's body, where Escape and the Tab trap no longer reach it.
    let next_page = move || {
        let Some(div) = panel.get_untracked() else {
            return;
        };
        let before = listed.with_untracked(|(items, _)| items.len());
        let more_had_focus = document()
            .active_element()
            .is_some_and(|e| e.class_list().contains("tidings-more") && div.contains(Some(&e)));
        load_more();
        if !more_had_focus || listed.with_untracked(|(_, more)| *more) {
            return;
        }
        let _ = div.focus();
        set_timeout(
            move || {
                let first_new = div
                    .query_selector_all(".tidings-list > li")
                    .ok()
                    .and_then(|items| items.item(before as u32))
                    .and_then(|li| li.dyn_into::<web_sys::Element>().ok())
                    .and_then(|li| li.query_selector(".tidings-title").ok().flatten())
                    .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok());
                if let Some(title) = first_new {
                    let _ = title.focus();
                }
            },
            std::time::Duration::ZERO,
        );
    };
    let on_scroll = move |_| {
        if let Some(div) = panel.get_untracked() {
            if div.scroll_top() + div.client_height() >= div.scroll_height() - 48 {
                next_page();
            }
        }
    };

    view! {
        <Show when=move || center.open.get()>
            <div
                class="tidings-panel"
                id=center.dom_id("tidings-panel")
                role="dialog"
                aria-modal="true"
                tabindex="-1"
                aria-labelledby=center.dom_id("tidings-heading")
                lang=move || if locale.get() == Locale::Zh { "zh-CN" } else { "en" }
                node_ref=panel
                on:scroll=on_scroll
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Tab" {
                        if let Some(div) = panel.get_untracked() {
                            keep_tab_inside(&div, &ev);
                        }
                        return;
                    }
                    if ev.key() == "Escape" {
                        ev.stop_propagation();
                        // In the search box with text in it, Escape clears the search first, as
                        // a browser's own search fields do; the next Escape closes the panel.
                        let in_search = ev
                            .target()
                            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                            .is_some_and(|t| t.class_list().contains("tidings-search"));
                        if in_search && !text.get_untracked().is_empty() {
                            ev.prevent_default();
                            text.set(String::new());
                            return;
                        }
                        center.close_panel();
                    }
                }
            >
                <header>
                    <h2 class="tidings-heading" id=center.dom_id("tidings-heading")>{tr(locale, Text::Notifications)}</h2>
                    <span class=move || format!("tidings-status {:?}", center.status.get()).to_lowercase()>
                        {move || i18n::t(locale.get(), match center.status.get() {
                            Status::Live => Text::Live,
                            Status::Reconnecting => Text::Reconnecting,
                            Status::Offline => Text::Offline,
                        })}
                    </span>
                    {move || center.missed.get().map(|n| view! {
                        <span class="tidings-missed">{move || i18n::missed_loaded(locale.get(), n)}</span>
                    })}
                    <label class="tidings-sr-only" for=center.dom_id("tidings-lang")>{tr(locale, Text::Language)}</label>
                    <select
                        id=center.dom_id("tidings-lang")
                        class="tidings-lang"
                        on:change=move |ev| center.set_locale(if event_target_value(&ev) == "zh" { Locale::Zh } else { Locale::En })
                    >
                        <option value="en" selected=move || locale.get() == Locale::En>{i18n::language_name(Locale::En)}</option>
                        <option value="zh" selected=move || locale.get() == Locale::Zh>{i18n::language_name(Locale::Zh)}</option>
                    </select>
                    <button type="button" class="tidings-prefs-open" aria-expanded=move || show_prefs.get().to_string()
                        on:click=move |_| show_prefs.update(|s| *s = !*s)>
                        {tr(locale, Text::Preferences)}
                    </button>
                    <button type="button" class="tidings-close" on:click=move |_| center.close_panel()>
                        {tr(locale, Text::Close)}
                    </button>
                </header>
                <Show when=move || show_prefs.get()>
                    <PrefsSheet center=center on_done=Callback::new(move |_| show_prefs.set(false)) />
                </Show>
                <Show when=move || !show_prefs.get()>
                    <div class="tidings-tabs" role="tablist" aria-label=tr(locale, Text::Categories)
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                            let n = tabs().len();
                            let next = match ev.key().as_str() {
                                "ArrowRight" => (tab.get_untracked() + 1) % n,
                                "ArrowLeft" => (tab.get_untracked() + n - 1) % n,
                                "Home" => 0,
                                "End" => n - 1,
                                _ => return,
                            };
                            ev.prevent_default();
                            tab.set(next);
                            if let Some(list) = ev.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
                                if let Some(b) = list.children().item(next as u32).and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
                                    let _ = b.focus();
                                }
                            }
                        }
                    >
                        {tabs().into_iter().enumerate().map(|(i, (label, cats))| {
                            let cats2 = cats;
                            let unread = Memo::new(move |_| center.inbox.with(|inbox| {
                                if cats2.is_empty() { inbox.unread() } else { cats2.iter().map(|c| inbox.unread_in(*c)).sum::<usize>() }
                            }));
                            let count = move || unread.get();
                            view! {
                                <button type="button" role="tab" class="tidings-tab"
                                    data-tab=label.map(|c| c.as_str()).unwrap_or("all")
                                    aria-selected=move || (tab.get() == i).to_string()
                                    tabindex=move || if tab.get() == i { "0" } else { "-1" }
                                    on:click=move |_| tab.set(i)
                                >
                                    {move || tab_label(locale.get(), label)}
                                    <Show when=move || { count() > 0 }>
                                        <span class="tidings-tab-count">
                                            <span aria-hidden="true">{move || i18n::badge(count())}</span>
                                            <span class="tidings-sr-only">{move || format!(", {}", i18n::unread_count(locale.get(), count()))}</span>
                                        </span>
                                    </Show>
                                </button>
                            }
                        }).collect_view()}
                    </div>
                    <div class="tidings-filters">
                        <label class="tidings-search-label">
                            <span class="tidings-sr-only">{tr(locale, Text::Search)}</span>
                            <input
                                type="search"
                                class="tidings-search"
                                node_ref=search
                                placeholder=tr(locale, Text::SearchPlaceholder)
                                prop:value=move || text.get()
                                on:input=move |ev| text.set(event_target_value(&ev))
                            />
                        </label>
                        <label>
                            <span class="tidings-sr-only">{tr(locale, Text::SortBy)}</span>
                            <select class="tidings-sort" on:change=move |ev| sort.set(Sort::parse(&event_target_value(&ev)).unwrap_or_default())>
                                <option value="newest" selected=move || sort.get() == Sort::Newest>{tr(locale, Text::SortNewest)}</option>
                                <option value="priority" selected=move || sort.get() == Sort::Priority>{tr(locale, Text::SortPriority)}</option>
                                <option value="expiring" selected=move || sort.get() == Sort::ExpiringSoon>{tr(locale, Text::SortExpiring)}</option>
                            </select>
                        </label>
                        <label>
                            <span class="tidings-sr-only">{tr(locale, Text::PriorityFilter)}</span>
                            <select class="tidings-priority" on:change=move |ev| min_priority.set(Priority::parse(&event_target_value(&ev)))>
                                <option value="" selected=move || min_priority.get().is_none()>{tr(locale, Text::AnyPriority)}</option>
                                {[Priority::Normal, Priority::High, Priority::Urgent].into_iter().map(|p| {
                                    let value = match p { Priority::Low => "low", Priority::Normal => "normal", Priority::High => "high", Priority::Urgent => "urgent" };
                                    view! { <option value=value selected=move || min_priority.get() == Some(p)>{move || i18n::priority(locale.get(), p)}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                        <label class="tidings-check">
                            <input type="checkbox" class="tidings-unread-only" prop:checked=move || unread_only.get()
                                on:change=move |ev| unread_only.set(event_target_checked(&ev)) />
                            {tr(locale, Text::UnreadOnly)}
                        </label>
                        <label class="tidings-check">
                            <input type="checkbox" class="tidings-archived-view" prop:checked=move || archived.get()
                                on:change=move |ev| archived.set(event_target_checked(&ev)) />
                            {tr(locale, Text::ShowArchived)}
                        </label>
                        <button type="button" class="tidings-mark-all" on:click=move |_| center.mark_all_read()>
                            {tr(locale, Text::MarkAllRead)}
                        </button>
                    </div>
                    <ul class="tidings-list" role="list">
                        <For
                            each=visible
                            key=|n| (n.id.clone(), n.seq, n.state)
                            children=move |n| view! { <Item center=center notification=n /> }
                        />
                    </ul>
                    <Show when=move || listed.with(|(items, _)| items.is_empty())>
                        <p class="tidings-empty">{tr(locale, Text::Empty)}</p>
                    </Show>
                    <Show when=has_more>
                        <button type="button" class="tidings-more" on:click=move |_| next_page()>
                            {tr(locale, Text::LoadMore)}
                        </button>
                    </Show>
                </Show>
            </div>
        </Show>
    }
}

/// Tab from the panel's last control goes to its first, Shift+Tab from its first (or from
/// the panel itself) to its last: a modal dialog keeps the keyboard inside until it closes.
fn keep_tab_inside(panel: &web_sys::HtmlDivElement, ev: &leptos::ev::KeyboardEvent) {
    const FOCUSABLE: &str = "a[href], button:not([disabled]), input:not([disabled]), \
        select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";
    let Ok(all) = panel.query_selector_all(FOCUSABLE) else {
        return;
    };
    let len = all.length();
    let at = |i: u32| {
        all.item(i)
            .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
    };
    let (Some(first), Some(last)) = (at(0), at(len.saturating_sub(1))) else {
        return;
    };
    let active = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element());
    let is = |el: &web_sys::HtmlElement| active.as_ref().is_some_and(|a| a == el.as_ref());
    let panel_itself = active.as_ref().is_some_and(|a| a == panel.as_ref());
    let wrap_to = if ev.shift_key() && (is(&first) || panel_itself) {
        Some(last)
    } else if !ev.shift_key() && is(&last) {
        Some(first)
    } else {
        None
    };
    if let Some(target) = wrap_to {
        ev.prevent_default();
        let _ = target.focus();
    }
}
