//! Component tests of the notification center in headless Chromium: mount
//! into a scratch `<div>`, feed frames through `Center::on_frame`, click
//! through web-sys and assert the DOM.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use tidings_core::notification::{Category, Locale, Localized, Notification, Priority, ReadState};
use tidings_core::protocol::ServerFrame;
use tidings_web::center::{now_ms, Center};
use tidings_web::components::NotificationCenter;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn note(id: &str, seq: u64, title: &str) -> Notification {
    Notification {
        id: id.into(),
        seq,
        kind: "order.shipped".into(),
        category: Category::Order,
        priority: Priority::Normal,
        title: Localized {
            en: title.into(),
            zh: String::new(),
        },
        body: Localized::default(),
        link: None,
        created_at: now_ms() - 150_000 - (seq as i64),
        expires_at: None,
        collapse_key: None,
        state: ReadState::Unread,
        ingested_at: 0,
    }
}

struct Mounted {
    center: Center,
    root: web_sys::HtmlElement,
    _handle: Box<dyn std::any::Any>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.root.remove();
    }
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn mount(locale: Locale) -> Mounted {
    let root: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&root).unwrap();
    let center = Center::new(locale);
    let handle = leptos::mount::mount_to(
        root.clone(),
        move || view! { <NotificationCenter center=center /> },
    );
    Mounted {
        center,
        root,
        _handle: Box::new(handle),
    }
}

/// Two centers on one (fresh) shopper's tab channel, as two tabs of one browser.
fn two_tabs() -> (Mounted, Mounted) {
    let user = format!("tabs-{}", (js_sys::Math::random() * 1e9) as u64);
    let (a, b) = (mount(Locale::En), mount(Locale::En));
    a.center.join_tabs(&user);
    b.center.join_tabs(&user);
    (a, b)
}

/// A fresh IndexedDB store of its own for one test.
async fn scratch_store(what: &str) -> std::rc::Rc<tidings_web::store::Store> {
    let name = format!(
        "tidings-test-{what}-{}",
        (js_sys::Math::random() * 1e9) as u64
    );
    std::rc::Rc::new(tidings_web::store::Store::open(&name).await.unwrap())
}

async fn settle() {
    for _ in 0..3 {
        leptos::task::tick().await;
    }
    gloo_timers::future::TimeoutFuture::new(0).await;
    leptos::task::tick().await;
}

impl Mounted {
    fn q(&self, sel: &str) -> Option<web_sys::HtmlElement> {
        self.root
            .query_selector(sel)
            .unwrap()
            .map(|e| e.unchecked_into())
    }
    fn all(&self, sel: &str) -> Vec<web_sys::HtmlElement> {
        let list = self.root.query_selector_all(sel).unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().unchecked_into())
            .collect()
    }
    fn titles(&self) -> Vec<String> {
        self.all(".tidings-item .tidings-title")
            .iter()
            .map(|e| e.text_content().unwrap_or_default())
            .collect()
    }
    fn feed(&self, n: Notification) {
        self.center
            .on_frame(ServerFrame::Notify { notification: n });
    }
    async fn open(&self) {
        self.q("button.tidings-bell").unwrap().click();
        settle().await;
    }
    async fn input(&self, sel: &str, value: &str) {
        let input: web_sys::HtmlInputElement = self.q(sel).unwrap().unchecked_into();
        input.set_value(value);
        let init = web_sys::EventInit::new();
        init.set_bubbles(true);
        input
            .dispatch_event(&web_sys::Event::new_with_event_init_dict("input", &init).unwrap())
            .unwrap();
        settle().await;
    }
    async fn select(&self, sel: &str, value: &str) {
        let select: web_sys::HtmlSelectElement = self.q(sel).unwrap().unchecked_into();
        select.set_value(value);
        let init = web_sys::EventInit::new();
        init.set_bubbles(true);
        select
            .dispatch_event(&web_sys::Event::new_with_event_init_dict("change", &init).unwrap())
            .unwrap();
        settle().await;
    }
}

#[wasm_bindgen_test]
async fn badge_counts_and_caps_at_99() {
    let m = mount(Locale::En);
    settle().await;
    assert!(m.q(".tidings-badge").is_none());
    m.feed(note("e:1", 1, "One"));
    settle().await;
    let bell = m.q("button.tidings-bell").unwrap();
    assert!(bell
        .get_attribute("aria-label")
        .unwrap()
        .contains("1 unread"));
    assert_eq!(m.q(".tidings-badge").unwrap().text_content().unwrap(), "1");
    m.center.upsert(
        (2..=120)
            .map(|i| note(&format!("e:{i}"), i, &format!("N{i}")))
            .collect(),
    );
    settle().await;
    assert_eq!(
        m.q(".tidings-badge").unwrap().text_content().unwrap(),
        "99+"
    );
    assert!(bell
        .get_attribute("aria-label")
        .unwrap()
        .contains("120 unread"));
    // Mark all read clears the badge.
    m.open().await;
    m.q(".tidings-mark-all").unwrap().click();
    settle().await;
    assert!(m.q(".tidings-badge").is_none());
}

#[wasm_bindgen_test]
async fn category_tab_filters_the_list() {
    let m = mount(Locale::En);
    m.feed(note("e:1", 1, "Order shipped"));
    let mut pay = note("e:2", 2, "Payment failed");
    pay.category = Category::Payment;
    m.feed(pay);
    let mut sec = note("e:3", 3, "New sign-in");
    sec.category = Category::Security;
    m.feed(sec);
    m.open().await;
    assert_eq!(m.titles().len(), 3);
    m.q(".tidings-tab[data-tab=payment]").unwrap().click();
    settle().await;
    assert_eq!(m.titles(), vec!["Payment failed"]);
    assert_eq!(
        m.q(".tidings-tab[data-tab=payment]")
            .unwrap()
            .get_attribute("aria-selected")
            .as_deref(),
        Some("true")
    );
    // The Account tab shows account and security.
    m.q(".tidings-tab[data-tab=account]").unwrap().click();
    settle().await;
    assert_eq!(m.titles(), vec!["New sign-in"]);
    m.q(".tidings-tab[data-tab=all]").unwrap().click();
    settle().await;
    assert_eq!(m.titles().len(), 3);
}

#[wasm_bindgen_test]
async fn search_filters_including_chinese() {
    let m = mount(Locale::En);
    let mut a = note("e:1", 1, "Your order has shipped");
    a.title.zh = "您的订单已发货".into();
    m.feed(a);
    let mut b = note("e:2", 2, "Price drop on Wool throw");
    b.title.zh = "羊毛毯降价".into();
    m.feed(b);
    m.open().await;
    assert_eq!(m.titles().len(), 2);
    m.input(".tidings-search", "WOOL").await;
    assert_eq!(m.titles(), vec!["Price drop on Wool throw"]);
    m.input(".tidings-search", "发货").await;
    assert_eq!(m.titles(), vec!["Your order has shipped"]);
    m.input(".tidings-search", "").await;
    assert_eq!(m.titles().len(), 2);
    // The search box has an accessible name.
    let label = m
        .q("label.tidings-search-label")
        .unwrap()
        .text_content()
        .unwrap();
    assert!(label.contains("Search"));
}

#[wasm_bindgen_test]
async fn sort_changes_order() {
    let m = mount(Locale::En);
    let mut low = note("e:1", 1, "Low");
    low.priority = Priority::Low;
    low.created_at = now_ms() - 1000;
    let mut urgent = note("e:2", 2, "Urgent");
    urgent.priority = Priority::Urgent;
    urgent.created_at = now_ms() - 5000;
    m.feed(low);
    m.feed(urgent);
    m.open().await;
    assert_eq!(m.titles(), vec!["Low", "Urgent"]);
    m.select(".tidings-sort", "priority").await;
    assert_eq!(m.titles(), vec!["Urgent", "Low"]);
    m.select(".tidings-sort", "newest").await;
    assert_eq!(m.titles(), vec!["Low", "Urgent"]);
    // Priority filter.
    m.select(".tidings-priority", "urgent").await;
    assert_eq!(m.titles(), vec!["Urgent"]);
}

#[wasm_bindgen_test]
async fn collapse_key_updates_in_place() {
    let m = mount(Locale::En);
    m.feed(note("c:order:1001", 4, "Order shipped"));
    m.feed(note("e:other", 5, "Other"));
    m.open().await;
    assert_eq!(m.all(".tidings-item[data-id='c:order:1001']").len(), 1);
    m.feed(note("c:order:1001", 9, "Order delivered"));
    settle().await;
    let items = m.all(".tidings-item[data-id='c:order:1001']");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].get_attribute("data-seq").as_deref(), Some("9"));
    assert!(items[0].text_content().unwrap().contains("Order delivered"));
    assert!(!m.root.text_content().unwrap().contains("Order shipped"));
    // A late, older seq does not bring the old text back.
    m.feed(note("c:order:1001", 6, "Order shipped"));
    settle().await;
    assert!(!m.root.text_content().unwrap().contains("Order shipped"));
    assert_eq!(m.titles().len(), 2);
}

#[wasm_bindgen_test]
async fn markup_in_text_renders_as_text() {
    let m = mount(Locale::En);
    let mut n = note(
        "e:x",
        1,
        "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\">",
    );
    n.body.en = "<b>bold</b>".into();
    n.link = Some("javascript:alert(1)".into());
    m.feed(n);
    m.open().await;
    assert_eq!(
        m.titles(),
        vec!["<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\">"]
    );
    let item = m.q(".tidings-item").unwrap();
    assert!(item.query_selector("script").unwrap().is_none());
    assert!(item.query_selector("img").unwrap().is_none());
    assert!(item.query_selector("b").unwrap().is_none());
    // Unsafe link: no anchor at all.
    assert!(item.query_selector("a").unwrap().is_none());
    gloo_timers::future::TimeoutFuture::new(20).await;
    let pwned = js_sys::Reflect::get(&web_sys::window().unwrap(), &"__pwned".into()).unwrap();
    assert!(pwned.is_undefined());
}

#[wasm_bindgen_test]
async fn clicking_an_item_marks_it_read_with_or_without_a_link() {
    let m = mount(Locale::En);
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<String>();
    m.center.set_sender(Some(tx));
    let mut linked = note("e:link", 2, "Shipped");
    linked.link = Some("/orders/1".into());
    m.feed(linked);
    m.feed(note("e:plain", 1, "Password changed"));
    m.open().await;
    let item = |id: &str| m.q(&format!(".tidings-item[data-id='{id}']")).unwrap();
    let link = item("e:link")
        .query_selector("a.tidings-title")
        .unwrap()
        .unwrap();
    assert_eq!(link.get_attribute("href").as_deref(), Some("/orders/1"));
    // Keep the test page where it is; the click handler still runs.
    let stay =
        wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| {
            e.prevent_default()
        });
    link.add_event_listener_with_callback("click", stay.as_ref().unchecked_ref())
        .unwrap();
    link.unchecked_ref::<web_sys::HtmlElement>().click();
    settle().await;
    assert!(rx.try_recv().unwrap().contains("e:link"));
    let plain = item("e:plain");
    let title: web_sys::HtmlElement = plain
        .query_selector("button.tidings-title")
        .unwrap()
        .expect("a link-less title is a button")
        .unchecked_into();
    title.click();
    settle().await;
    assert!(rx.try_recv().unwrap().contains("e:plain"));
    assert_eq!(m.center.unread(), 0);
}

#[wasm_bindgen_test]
async fn two_centers_on_one_page_share_no_element_id() {
    let (a, b) = (mount(Locale::En), mount(Locale::En));
    a.open().await;
    b.open().await;
    let ids = |m: &Mounted| {
        let all = m.root.query_selector_all("[id]").unwrap();
        (0..all.length())
            .map(|i| {
                all.item(i)
                    .unwrap()
                    .unchecked_into::<web_sys::Element>()
                    .id()
            })
            .collect::<Vec<_>>()
    };
    let (ids_a, ids_b) = (ids(&a), ids(&b));
    assert!(ids_a.len() >= 3, "{ids_a:?}");
    assert!(
        ids_a.iter().all(|id| !ids_b.contains(id)),
        "{ids_a:?} vs {ids_b:?}"
    );
    // Each bell controls, and each dialog is labelled by, an element of its own center.
    for m in [&a, &b] {
        let bell = m.q("button.tidings-bell").unwrap();
        let panel = document()
            .get_element_by_id(&bell.get_attribute("aria-controls").unwrap())
            .unwrap();
        assert!(m.root.contains(Some(&panel)));
        let heading = document()
            .get_element_by_id(&panel.get_attribute("aria-labelledby").unwrap())
            .unwrap();
        assert!(m.root.contains(Some(&heading)));
        let label = m.q("label[for]").unwrap();
        let select = document()
            .get_element_by_id(&label.get_attribute("for").unwrap())
            .unwrap();
        assert!(m.root.contains(Some(&select)));
    }
}

#[wasm_bindgen_test]
async fn escape_in_the_search_box_clears_the_search_before_closing() {
    let m = mount(Locale::En);
    m.feed(note("e:1", 1, "Order shipped"));
    m.feed(note("e:2", 2, "Card declined"));
    m.open().await;
    m.input(".tidings-search", "card").await;
    assert_eq!(m.titles(), vec!["Card declined"]);
    m.q(".tidings-search").unwrap().focus().unwrap();
    press_escape();
    settle().await;
    assert!(
        m.q("[role=dialog]").is_some(),
        "the first Escape only clears"
    );
    let search: web_sys::HtmlInputElement = m.q(".tidings-search").unwrap().unchecked_into();
    assert_eq!(search.value(), "");
    assert_eq!(m.titles().len(), 2);
    press_escape();
    settle().await;
    assert!(m.q("[role=dialog]").is_none(), "the second Escape closes");
}

#[wasm_bindgen_test]
async fn dialog_focus_and_escape() {
    let m = mount(Locale::En);
    m.open().await;
    let panel = m.q("[role=dialog]").expect("dialog open");
    let heading = m.q(".tidings-heading").unwrap();
    assert_eq!(panel.get_attribute("aria-labelledby"), Some(heading.id()));
    // Focus moved into the dialog.
    let active = document().active_element().unwrap();
    assert!(panel.contains(Some(&active)), "focus is inside the dialog");
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    active
        .dispatch_event(
            &web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap(),
        )
        .unwrap();
    settle().await;
    assert!(m.q("[role=dialog]").is_none(), "Escape closes the dialog");
    let bell = m.q("button.tidings-bell").unwrap();
    assert_eq!(
        document().active_element().unwrap(),
        bell.unchecked_into::<web_sys::Element>()
    );
    assert_eq!(
        m.q("button.tidings-bell")
            .unwrap()
            .get_attribute("aria-expanded")
            .as_deref(),
        Some("false")
    );
}

#[wasm_bindgen_test]
async fn item_actions_relative_time_and_chinese_ui() {
    let m = mount(Locale::Zh);
    m.feed(note("e:1", 1, "Shipped"));
    m.open().await;
    assert!(m
        .q(".tidings-time")
        .unwrap()
        .text_content()
        .unwrap()
        .contains("2 分钟前"));
    assert_eq!(
        m.q(".tidings-heading").unwrap().text_content().unwrap(),
        "通知"
    );
    // Switch to English.
    m.select(".tidings-lang", "en").await;
    assert!(m
        .q(".tidings-time")
        .unwrap()
        .text_content()
        .unwrap()
        .contains("2 min ago"));
    // Toggle read, then archive; archived view shows it.
    m.q(".tidings-toggle").unwrap().click();
    settle().await;
    assert!(!m
        .q(".tidings-item")
        .unwrap()
        .class_name()
        .contains("unread"));
    m.q(".tidings-archive").unwrap().click();
    settle().await;
    assert!(m.titles().is_empty());
    let archived = m.q(".tidings-archived-view").unwrap();
    archived.click();
    settle().await;
    assert_eq!(m.titles(), vec!["Shipped"]);
}

#[wasm_bindgen_test]
async fn load_more_pages_through_cursor() {
    let m = mount(Locale::En);
    m.center.upsert(
        (1..=45)
            .map(|i| note(&format!("e:{i}"), i, &format!("N{i}")))
            .collect(),
    );
    m.open().await;
    assert_eq!(m.titles().len(), tidings_web::components::PAGE_SIZE);
    m.q(".tidings-more").unwrap().click();
    settle().await;
    assert_eq!(m.titles().len(), 40);
    m.q(".tidings-more").unwrap().click();
    settle().await;
    assert_eq!(m.titles().len(), 45);
    assert!(m.q(".tidings-more").is_none());
}

#[wasm_bindgen_test]
async fn the_last_load_more_hands_the_focus_to_the_first_item_it_brought() {
    let m = mount(Locale::En);
    m.center.upsert(
        (1..=25)
            .map(|i| note(&format!("e:{i}"), i, &format!("N{i}")))
            .collect(),
    );
    m.open().await;
    let more = m.q(".tidings-more").unwrap();
    more.focus().unwrap();
    more.click();
    settle().await;
    // The focus moves once the new page is in the DOM (a timer after the render).
    let focused = || document().active_element().unwrap();
    for _ in 0..100 {
        if m.q(".tidings-more").is_none() && focused().text_content().unwrap_or_default() == "N21" {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    assert!(m.q(".tidings-more").is_none(), "the last page is shown");
    let active = focused();
    assert_eq!(
        (active.tag_name(), active.text_content().unwrap_or_default()),
        ("BUTTON".to_owned(), "N21".to_owned()),
        "the first item of the new page (newest first: N1..N20, then N21..N25) has the focus"
    );
    // Still inside the dialog: Escape closes it and the focus returns to the bell.
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    let esc = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    active.dispatch_event(&esc).unwrap();
    settle().await;
    assert!(m.q(".tidings-panel").is_none());
    assert!(document()
        .active_element()
        .unwrap()
        .class_list()
        .contains("tidings-bell"));
}

#[wasm_bindgen_test]
async fn a_panel_closed_on_its_preferences_reopens_on_the_list_with_the_focus_inside() {
    let m = mount(Locale::En);
    m.center.upsert(vec![note("e:1", 1, "Shipped")]);
    m.open().await;
    m.q(".tidings-prefs-open").unwrap().click();
    settle().await;
    assert!(
        m.q(".tidings-search").is_none(),
        "the sheet replaces the list"
    );
    m.center.close_panel();
    settle().await;
    m.open().await;
    let search = m.q(".tidings-search").expect("the list, not the sheet");
    assert_eq!(
        document().active_element().unwrap(),
        *search.unchecked_ref::<web_sys::Element>()
    );
}

#[wasm_bindgen_test]
async fn urgent_item_raises_dismissable_toast_when_live() {
    let m = mount(Locale::En);
    m.center.on_frame(ServerFrame::Synced { head: 0 });
    let mut n = note("e:u", 1, "Payment failed");
    n.priority = Priority::Urgent;
    m.feed(n);
    settle().await;
    let region = m.q("[role=alert]").unwrap();
    assert!(region.text_content().unwrap().contains("Payment failed"));
    assert!(m
        .q("[aria-live=polite]")
        .unwrap()
        .text_content()
        .unwrap()
        .contains("Payment failed"));
    m.q(".tidings-toast-dismiss").unwrap().click();
    settle().await;
    assert!(m.q(".tidings-toast").is_none());
}

#[wasm_bindgen_test]
async fn changes_from_other_tabs_apply_within_200ms() {
    let (a, b) = two_tabs();
    for m in [&a, &b] {
        m.feed(note("e:1", 1, "One"));
    }
    settle().await;
    a.center.mark(vec!["e:1".into()], ReadState::Read);
    gloo_timers::future::TimeoutFuture::new(200).await;
    settle().await;
    assert_eq!(b.center.inbox.with_untracked(|i| i.unread()), 0);
    assert!(b
        .q("button.tidings-bell")
        .unwrap()
        .get_attribute("aria-label")
        .unwrap()
        .contains("0 unread"));
    // Applying directly works too.
    b.center
        .apply_from_tab(&["e:1".to_owned()], ReadState::Archived);
    assert_eq!(
        b.center
            .inbox
            .with_untracked(|i| i.get("e:1").unwrap().state),
        ReadState::Archived
    );
}

#[wasm_bindgen_test]
async fn a_follower_tab_hears_the_edge_through_the_leader_and_sends_through_it() {
    use futures_util::StreamExt;
    use tidings_web::center::Status;
    use tidings_web::tabs::Role;
    let (leader, follower) = two_tabs();
    leader.center.set_role(Role::Leader);
    follower.center.set_role(Role::Follower);
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<String>();
    leader.center.set_sender(Some(tx));
    // The leader's status and resume notice show in the follower.
    leader.center.set_status(Status::Live);
    leader.center.set_missed(2);
    gloo_timers::future::TimeoutFuture::new(100).await;
    settle().await;
    assert_eq!(follower.center.status.get_untracked(), Status::Live);
    follower.q("button.tidings-bell").unwrap().click();
    settle().await;
    assert_eq!(
        follower
            .q(".tidings-missed")
            .map(|e| e.text_content().unwrap()),
        Some("2 missed notifications loaded".to_owned())
    );
    // A frame the leader relays lands in the follower's list.
    let frame = ServerFrame::Notify {
        notification: note("e:relayed", 7, "Relayed"),
    }
    .encode();
    leader.center.relay(&frame);
    gloo_timers::future::TimeoutFuture::new(100).await;
    settle().await;
    assert_eq!(
        follower
            .center
            .inbox
            .with_untracked(|i| i.get("e:relayed").map(|n| n.seq)),
        Some(7)
    );
    // The follower has no socket: its mark goes out on the leader's.
    follower
        .center
        .mark(vec!["e:relayed".into()], ReadState::Read);
    let sent =
        futures_util::future::select(rx.next(), gloo_timers::future::TimeoutFuture::new(1000))
            .await;
    let text = match sent {
        futures_util::future::Either::Left((Some(text), _)) => text,
        _ => panic!("the leader sent nothing within 1 s"),
    };
    assert!(
        text.contains(r#""type":"mark""#) && text.contains("e:relayed"),
        "{text}"
    );
    // A solo tab ignores relayed frames (it has its own socket).
    follower.center.set_role(Role::Solo);
    leader.center.relay(
        &ServerFrame::Notify {
            notification: note("e:ignored", 8, "Ignored"),
        }
        .encode(),
    );
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert!(follower
        .center
        .inbox
        .with_untracked(|i| i.get("e:ignored").is_none()));
}

#[wasm_bindgen_test]
async fn prefs_sheet_sends_prefs_and_applies_server_prefs() {
    let m = mount(Locale::En);
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<String>();
    m.center.set_sender(Some(tx));
    m.open().await;
    m.q(".tidings-prefs-open").unwrap().click();
    settle().await;
    let sec: web_sys::HtmlInputElement = m
        .q(".tidings-pref-category[data-category=security]")
        .unwrap()
        .unchecked_into();
    assert!(sec.disabled() && sec.checked());
    m.q(".tidings-pref-category[data-category=promo]")
        .unwrap()
        .click();
    m.q(".tidings-quiet-on").unwrap().click();
    settle().await;
    m.input(".tidings-quiet-start", "21:30").await;
    m.q(".tidings-prefs-save").unwrap().click();
    settle().await;
    let sent = rx.try_recv().unwrap();
    let frame: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(frame["type"], "prefs");
    assert_eq!(frame["prefs"]["muted"], serde_json::json!(["promo"]));
    assert_eq!(frame["prefs"]["quiet_hours"]["start_minute"], 21 * 60 + 30);
    // The edge's prefs (e.g. from another device) switch the language.
    let prefs = tidings_core::prefs::Preferences {
        locale: Some(Locale::Zh),
        ..Default::default()
    };
    m.center.on_frame(ServerFrame::Prefs { prefs });
    settle().await;
    assert_eq!(
        m.q(".tidings-heading").unwrap().text_content().unwrap(),
        "通知"
    );
}

#[wasm_bindgen_test]
async fn watch_buttons_toggle_and_reflect_topics() {
    let root: web_sys::HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&root).unwrap();
    let center = Center::new(Locale::En);
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<String>();
    center.set_sender(Some(tx));
    let _h = leptos::mount::mount_to(root.clone(), move || {
        view! {
            <tidings_web::components::WatchButtons center=center sku="sku-mug".to_string() product="p-mug".to_string() />
        }
    });
    settle().await;
    let stock: web_sys::HtmlElement = root
        .query_selector(".tidings-watch-stock")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert_eq!(
        stock.get_attribute("aria-pressed").as_deref(),
        Some("false")
    );
    stock.click();
    settle().await;
    assert_eq!(
        rx.try_recv().unwrap(),
        r#"{"type":"watch","topic":"stock:sku-mug"}"#
    );
    assert_eq!(stock.get_attribute("aria-pressed").as_deref(), Some("true"));
    stock.click();
    settle().await;
    assert_eq!(
        rx.try_recv().unwrap(),
        r#"{"type":"unwatch","topic":"stock:sku-mug"}"#
    );
    // Price drops are watched per product.
    center.on_frame(ServerFrame::Topics {
        topics: vec!["price:p-mug".into()],
    });
    settle().await;
    let price = root
        .query_selector(".tidings-watch-price")
        .unwrap()
        .unwrap();
    assert_eq!(price.get_attribute("aria-pressed").as_deref(), Some("true"));
    root.remove();
}

#[wasm_bindgen_test]
async fn tabs_are_keyboard_usable() {
    let m = mount(Locale::En);
    let mut pay = note("e:2", 2, "Payment failed");
    pay.category = Category::Payment;
    m.feed(note("e:1", 1, "Order shipped"));
    m.feed(pay);
    m.open().await;
    let all = m.q(".tidings-tab[data-tab=all]").unwrap();
    assert_eq!(all.get_attribute("tabindex").as_deref(), Some("0"));
    all.focus().unwrap();
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("ArrowRight");
    init.set_bubbles(true);
    for _ in 0..2 {
        document()
            .active_element()
            .unwrap()
            .dispatch_event(
                &web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init)
                    .unwrap(),
            )
            .unwrap();
        settle().await;
    }
    let pay_tab = m.q(".tidings-tab[data-tab=payment]").unwrap();
    assert_eq!(
        pay_tab.get_attribute("aria-selected").as_deref(),
        Some("true")
    );
    assert_eq!(
        document().active_element().unwrap(),
        pay_tab.unchecked_into::<web_sys::Element>()
    );
    assert_eq!(m.titles(), vec!["Payment failed"]);
}

/// Presses Escape on whatever has the focus.
fn press_escape() {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    document()
        .active_element()
        .unwrap()
        .dispatch_event(
            &web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap(),
        )
        .unwrap();
}

/// The `data-id` of the item holding the focus, and the focused element's class.
fn focused_item() -> (Option<String>, String) {
    let active = document().active_element().unwrap();
    let item = active
        .closest(".tidings-item")
        .unwrap()
        .and_then(|i| i.get_attribute("data-id"));
    (item, active.class_name())
}

/// [`focused_item`] once it is `want`, or after 2 s: focus moves on an animation frame, which
/// a busy headless browser may run late.
async fn focus_settles_on(want: (&str, &str)) -> (Option<String>, String) {
    for _ in 0..100 {
        let now = focused_item();
        if now.0.as_deref() == Some(want.0) && now.1 == want.1 {
            return now;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    focused_item()
}

#[wasm_bindgen_test]
async fn keyboard_focus_stays_with_the_item_after_an_action() {
    let m = mount(Locale::En);
    m.feed(note("e:1", 1, "One"));
    m.feed(note("e:2", 2, "Two"));
    m.open().await;
    let toggle = m.q(".tidings-item[data-id='e:2'] .tidings-toggle").unwrap();
    // The buttons say which item they act on.
    assert_eq!(
        toggle.get_attribute("aria-label").as_deref(),
        Some("Mark read: Two")
    );
    toggle.focus().unwrap();
    toggle.click();
    settle().await;
    // The item was drawn anew (now read); its button has the focus again.
    assert_eq!(
        focus_settles_on(("e:2", "tidings-toggle")).await,
        (Some("e:2".into()), "tidings-toggle".into())
    );
    // Archived, the item leaves the view: the focus goes to the item now in its place.
    let archive = m
        .q(".tidings-item[data-id='e:2'] .tidings-archive")
        .unwrap();
    archive.focus().unwrap();
    archive.click();
    settle().await;
    let focused = focus_settles_on(("e:1", "tidings-toggle")).await;
    assert_eq!(m.titles(), vec!["One"]);
    assert_eq!(focused, (Some("e:1".into()), "tidings-toggle".into()));
    // And Escape still closes the panel from there.
    press_escape();
    settle().await;
    assert!(m.q("[role=dialog]").is_none());
}

#[wasm_bindgen_test]
async fn the_priority_filter_shows_what_filters_after_the_panel_reopens() {
    let m = mount(Locale::En);
    let mut urgent = note("e:1", 1, "Card declined");
    urgent.priority = Priority::Urgent;
    m.feed(urgent);
    m.feed(note("e:2", 2, "Shipped"));
    m.open().await;
    m.select(".tidings-priority", "urgent").await;
    assert_eq!(m.titles(), vec!["Card declined"]);
    m.q("button.tidings-bell").unwrap().click();
    settle().await;
    m.open().await;
    let select: web_sys::HtmlSelectElement = m.q(".tidings-priority").unwrap().unchecked_into();
    assert_eq!(
        select.value(),
        "urgent",
        "the select says what the list is filtered by"
    );
    assert_eq!(m.titles(), vec!["Card declined"]);
    m.select(".tidings-priority", "").await;
    assert_eq!(m.titles().len(), 2);
}

#[wasm_bindgen_test]
async fn expired_items_leave_the_badge_with_the_list() {
    let m = mount(Locale::En);
    let mut soon = note("e:1", 1, "Flash sale");
    soon.expires_at = Some(now_ms() + 60_000);
    m.feed(soon);
    m.feed(note("e:2", 2, "Shipped"));
    settle().await;
    assert_eq!(m.center.unread(), 2);
    // A minute later (the center's clock tick), the sale is over: gone from the count too.
    m.center.drop_expired(now_ms() + 61_000);
    settle().await;
    assert_eq!(m.center.unread(), 1);
    let bell = m.q("button.tidings-bell").unwrap();
    assert!(
        bell.get_attribute("aria-label").unwrap().contains('1'),
        "{:?}",
        bell.get_attribute("aria-label")
    );
    m.open().await;
    assert_eq!(m.titles(), vec!["Shipped"]);
}

#[wasm_bindgen_test]
async fn saving_preferences_keeps_the_language_shown() {
    // Mounted in Chinese for a shopper who never picked a language: the edge's defaults
    // (English) arrive with `welcome`, and saving the sheet must not switch to English.
    let m = mount(Locale::Zh);
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<String>();
    m.center.set_sender(Some(tx));
    m.center.on_frame(ServerFrame::Welcome {
        v: tidings_core::protocol::PROTOCOL_VERSION,
        user: "yan".into(),
        head: 0,
        version: 0,
        prefs: Default::default(),
        topics: Vec::new(),
    });
    m.open().await;
    m.q(".tidings-prefs-open").unwrap().click();
    settle().await;
    m.q(".tidings-prefs-save").unwrap().click();
    settle().await;
    let sent: serde_json::Value = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
    // Not picked: the page keeps deciding (a choice would follow the shopper elsewhere).
    assert!(sent["prefs"].get("locale").is_none(), "{sent}");
    assert_eq!(
        m.q(".tidings-heading").unwrap().text_content().unwrap(),
        "通知"
    );
}

#[wasm_bindgen_test]
async fn picking_a_language_saves_it_as_the_shoppers_choice() {
    // Mounted in Chinese; the shopper picks English in the sheet: that is a choice, queued for
    // the edge and kept in IndexedDB, so a reload of this Chinese page comes back in English.
    let m = mount(Locale::Zh);
    let store = scratch_store("picked-language").await;
    m.center.set_store(store.clone());
    m.open().await;
    m.q(".tidings-prefs-open").unwrap().click();
    settle().await;
    let select: web_sys::HtmlSelectElement = m.q(".tidings-pref-lang").unwrap().unchecked_into();
    select.set_value("en");
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
    m.q(".tidings-prefs-save").unwrap().click();
    settle().await;
    assert_eq!(
        m.q(".tidings-heading").unwrap().text_content().unwrap(),
        "Notifications"
    );
    let (mut queued, mut stored) = (Vec::new(), None);
    for _ in 0..20 {
        queued = store.outbox().await.unwrap();
        stored = store.prefs().await.unwrap();
        if !queued.is_empty() && stored.is_some() {
            break;
        }
        settle().await;
    }
    let sent: serde_json::Value = serde_json::from_str(&queued[0].1).unwrap();
    assert_eq!(sent["prefs"]["locale"], "en", "{sent}");
    assert_eq!(stored.and_then(|p| p.locale), Some(Locale::En));
}

#[wasm_bindgen_test]
async fn a_tab_taking_the_socket_over_stores_what_the_last_leader_relayed() {
    use tidings_web::tabs::Role;
    let (leader, follower) = two_tabs();
    leader.center.set_role(Role::Leader);
    follower.center.set_role(Role::Follower);
    let store = scratch_store("heard").await;
    follower.center.set_store(store.clone());
    // The leader relays a notification and closes before writing it.
    leader.center.relay(
        &ServerFrame::Notify {
            notification: note("e:unsaved", 9, "Relayed, not stored"),
        }
        .encode(),
    );
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert!(store.all().await.unwrap().is_empty());
    // The follower takes over: what it heard is stored before it resumes after seq 9.
    follower.center.set_role(Role::Leader);
    follower.center.store_heard().await;
    let stored: Vec<_> = store
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.id, n.seq))
        .collect();
    assert_eq!(stored, vec![("e:unsaved".to_string(), 9)]);
    assert_eq!(follower.center.last_seq(), 9);
}

/// The focusable controls of the open panel, in document order.
fn panel_controls(m: &Mounted) -> Vec<web_sys::HtmlElement> {
    let all = m
        .q("[role=dialog]")
        .unwrap()
        .query_selector_all(
            "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled])",
        )
        .unwrap();
    (0..all.length())
        .filter_map(|i| all.item(i))
        .map(|n| n.unchecked_into())
        .collect()
}

fn press_tab(shift: bool) -> bool {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Tab");
    init.set_shift_key(shift);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let ev = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    document()
        .active_element()
        .unwrap()
        .dispatch_event(&ev)
        .unwrap();
    ev.default_prevented()
}

#[wasm_bindgen_test]
async fn tab_stays_inside_the_open_panel() {
    let m = mount(Locale::En);
    m.feed(note("e:1", 1, "One"));
    m.open().await;
    let dialog = m.q("[role=dialog]").unwrap();
    assert_eq!(dialog.get_attribute("aria-modal").as_deref(), Some("true"));
    let controls = panel_controls(&m);
    assert!(controls.len() > 3, "{} controls", controls.len());
    let (first, last) = (controls[0].clone(), controls[controls.len() - 1].clone());
    let active = || document().active_element().unwrap();
    // Tab from the last control wraps to the first; Shift+Tab from the first to the last.
    last.focus().unwrap();
    assert!(
        press_tab(false),
        "Tab on the last control is taken by the panel"
    );
    assert_eq!(active(), *first.unchecked_ref::<web_sys::Element>());
    assert!(press_tab(true));
    assert_eq!(active(), *last.unchecked_ref::<web_sys::Element>());
    // In between, the browser moves the focus as usual.
    controls[1].focus().unwrap();
    assert!(!press_tab(false));
    assert!(!press_tab(true));
}

#[wasm_bindgen_test]
async fn a_toast_goes_when_its_item_is_read_here_or_elsewhere() {
    let m = mount(Locale::En);
    m.center.on_frame(ServerFrame::Synced { head: 0 });
    for (id, seq) in [("e:u1", 1), ("e:u2", 2)] {
        let mut n = note(id, seq, "Payment failed");
        n.priority = Priority::Urgent;
        m.feed(n);
    }
    settle().await;
    let toasts = || {
        m.center
            .toasts
            .with_untracked(|t| t.iter().map(|n| n.id.clone()).collect::<Vec<_>>())
    };
    assert_eq!(toasts(), vec!["e:u1", "e:u2"]);
    // Read in this tab.
    m.center.mark(vec!["e:u1".into()], ReadState::Read);
    settle().await;
    assert_eq!(toasts(), vec!["e:u2"]);
    // Archived on another device.
    m.center.on_frame(ServerFrame::Changed {
        ids: vec!["e:u2".into()],
        state: ReadState::Archived,
        version: 3,
    });
    settle().await;
    assert!(toasts().is_empty());
    assert!(m.q(".tidings-toast").is_none());
}

#[wasm_bindgen_test]
async fn a_toast_follows_its_item_when_it_is_replaced_in_place_or_all_is_read() {
    let m = mount(Locale::En);
    m.center.on_frame(ServerFrame::Synced { head: 0 });
    let mut failed = note("c:order:1", 1, "Delivery problem with order #1");
    failed.priority = Priority::Urgent;
    m.feed(failed);
    let mut alert = note("c:alert:1", 2, "Alert: error rate");
    alert.priority = Priority::Urgent;
    m.feed(alert.clone());
    settle().await;
    assert_eq!(m.all(".tidings-toast").len(), 2);
    // Still urgent, new text: the toast shows the new text.
    alert.seq = 3;
    alert.title.en = "Alert: error rate higher".into();
    m.feed(alert);
    settle().await;
    let texts = || {
        m.all(".tidings-toast")
            .iter()
            .map(|t| t.text_content().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert!(
        texts().iter().any(|t| t.contains("error rate higher")),
        "{:?}",
        texts()
    );
    assert!(!texts()
        .iter()
        .any(|t| t.contains("error rate") && !t.contains("higher")));
    // Replaced in place by a calmer version ("delivered"): its toast goes.
    m.feed(note("c:order:1", 4, "Order #1 delivered"));
    settle().await;
    assert_eq!(texts().len(), 1, "{:?}", texts());
    assert!(!texts()[0].contains("Delivery problem"));
    // "Mark all read" takes the rest, offline too.
    m.center.mark_all_read();
    settle().await;
    assert!(m.q(".tidings-toast").is_none());
}

#[wasm_bindgen_test]
async fn the_plain_title_keeps_the_focus_after_marking_read() {
    let m = mount(Locale::En);
    m.feed(note("e:p", 1, "Password changed"));
    m.open().await;
    let title = m.q(".tidings-item[data-id='e:p'] .tidings-title").unwrap();
    title.focus().unwrap();
    title.click();
    settle().await;
    assert_eq!(
        focus_settles_on(("e:p", "tidings-title tidings-title-plain")).await,
        (
            Some("e:p".into()),
            "tidings-title tidings-title-plain".into()
        )
    );
}

#[wasm_bindgen_test]
async fn a_follower_frame_waits_in_the_outbox_while_no_tab_holds_the_socket() {
    use tidings_web::tabs::Role;
    // A tab that follows before any leader exists (another tab booting, or the leader gone):
    // its mark must not vanish into a channel nobody listens to.
    let (_other, follower) = two_tabs();
    follower.center.set_role(Role::Follower);
    let store = scratch_store("outbox").await;
    follower.center.set_store(store.clone());
    follower.feed(note("e:f", 1, "Followed"));
    follower.center.mark(vec!["e:f".into()], ReadState::Read);
    let mut queued = Vec::new();
    for _ in 0..50 {
        queued = store.outbox().await.unwrap();
        if !queued.is_empty() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(
        queued[0].1.contains(r#""type":"mark""#) && queued[0].1.contains("e:f"),
        "{queued:?}"
    );
}

/// The roles `tabs::elect` hands its callback within `ms`.
async fn elected(name: &str, ms: u32) -> Vec<tidings_web::tabs::Role> {
    let roles = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = roles.clone();
    tidings_web::tabs::elect(name, move |role| seen.borrow_mut().push(role));
    gloo_timers::future::TimeoutFuture::new(ms).await;
    roles.take()
}

#[wasm_bindgen_test]
async fn a_tab_whose_lock_request_fails_runs_its_own_socket_instead_of_following_nobody() {
    use tidings_web::tabs::Role;
    // Granted: this tab leads (and keeps the lock for the page's life).
    assert_eq!(elected("tidings-test-lock", 100).await, vec![Role::Leader]);
    // Held by another tab: this one follows, with no callback until the lock is free.
    assert_eq!(elected("tidings-test-lock", 200).await, vec![]);
    // `navigator.locks` there but refusing (a sandboxed frame, an opaque origin): solo.
    js_sys::eval(
        "Object.defineProperty(navigator, 'locks', {configurable: true, value: \
         {request: () => Promise.reject(new DOMException('denied', 'SecurityError'))}})",
    )
    .unwrap();
    let refused = elected("tidings-test-lock-refused", 100).await;
    js_sys::eval("delete navigator.locks").unwrap();
    assert_eq!(refused, vec![Role::Solo]);
}

#[wasm_bindgen_test]
async fn preferences_and_watches_reach_the_other_tabs_without_the_edge() {
    use tidings_core::prefs::Preferences;
    use tidings_web::tabs::Role;
    // No tab holds the socket (offline, or the leader still booting): nothing comes back from
    // the edge, yet the other tab shows the change at once.
    let (a, b) = two_tabs();
    a.center.set_role(Role::Follower);
    b.center.set_role(Role::Follower);
    // The tabs knew different lists (one opened before the other heard the edge): each change
    // travels as a change, so neither list is replaced by the other's.
    b.center.topics.set(vec!["stock:known-to-b".to_owned()]);
    let mut prefs = Preferences::default();
    prefs.muted.insert(Category::Promo);
    prefs.locale = Some(Locale::Zh);
    a.center.save_prefs(prefs.clone());
    a.center.set_watch("stock:sku-mug".into(), true);
    a.center.set_watch("price:p9".into(), true);
    a.center.set_watch("stock:sku-mug".into(), false);
    gloo_timers::future::TimeoutFuture::new(200).await;
    settle().await;
    assert_eq!(b.center.prefs.get_untracked(), prefs);
    assert_eq!(b.center.locale.get_untracked(), Locale::Zh);
    assert_eq!(
        b.center.topics.get_untracked(),
        vec!["stock:known-to-b".to_owned(), "price:p9".to_owned()]
    );
}
