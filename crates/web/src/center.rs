//! The reactive state of one notification center and how server frames change it.
//!
//! Items live in a [`tidings_core::inbox::Inbox`], kept by id, so a replayed
//! notification never shows twice and a newer item with the same collapse key
//! (same id) replaces the old one in place; the inbox also keeps unread counts
//! per category and answers the panel's queries. Frames that must reach the
//! edge go through [`Center::send`]: into IndexedDB's outbox first, then out over the
//! socket, which removes them once the edge has answered a ping sent after them. Other tabs of the same shopper are reached through
//! a `BroadcastChannel("tidings-<user>")` ([`crate::tabs`]): read-state changes
//! apply there at once, and only one tab (the Web Lock's holder) keeps a socket.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use tidings_core::inbox::Inbox;
use tidings_core::notification::{Locale, Notification, Priority, ReadState};
use tidings_core::prefs::Preferences;
use tidings_core::protocol::{ClientFrame, ServerFrame};
use tidings_core::time::Millis;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::store::Store;
use crate::tabs::{Role, TabMessage};

/// Connection status shown in the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Connecting or waiting to reconnect.
    Reconnecting,
    /// Replay done; live.
    Live,
    /// The edge cannot be reached; showing stored history.
    Offline,
}

/// State of one center; cheap to copy into closures.
#[derive(Clone, Copy)]
pub struct Center {
    /// Every known notification, with search text and unread counts.
    pub inbox: RwSignal<Inbox>,
    /// Connection status.
    pub status: RwSignal<Status>,
    /// Whether the panel is open.
    pub open: RwSignal<bool>,
    /// UI language.
    pub locale: RwSignal<Locale>,
    /// Text announced to screen readers (aria-live).
    pub announcement: RwSignal<String>,
    /// The shopper's preferences as last known.
    pub prefs: RwSignal<Preferences>,
    /// Topics watched (`stock:<sku>`, `price:<sku>`).
    pub topics: RwSignal<Vec<String>>,
    /// Urgent items shown as toasts until dismissed.
    pub toasts: RwSignal<Vec<Notification>>,
    /// The clock the panel uses for relative times and expiry (unix ms).
    pub now: RwSignal<Millis>,
    /// How many missed notifications the last resume loaded (shown quietly), if any.
    pub missed: RwSignal<Option<u64>>,
    /// Whether this tab keeps the socket or follows the tab that does.
    role: StoredValue<Role, LocalStorage>,
    /// Where frames go: the live socket, if any.
    sender: StoredValue<Rc<RefCell<Option<UnboundedSender<String>>>>, LocalStorage>,
    /// The IndexedDB store, once open.
    store: StoredValue<Option<Rc<Store>>, LocalStorage>,
    /// The channel to other tabs of this shopper.
    channel: StoredValue<Option<web_sys::BroadcastChannel>, LocalStorage>,
    /// The bell, to return focus to when the panel closes.
    bell: StoredValue<Option<web_sys::HtmlElement>, LocalStorage>,
    /// What this tab heard through the leader (which writes it to IndexedDB after relaying):
    /// written by this tab if it takes the socket over, in case the leader closed first.
    heard: StoredValue<Vec<Notification>, LocalStorage>,
    /// Which center of this page this is (1 for the first), for unique element ids.
    number: u32,
}

thread_local! {
    /// How many centers this page has made.
    static CENTERS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The current time (unix ms).
pub fn now_ms() -> Millis {
    js_sys::Date::now() as Millis
}

impl Center {
    /// A new, empty center.
    pub fn new(locale: Locale) -> Self {
        Center {
            inbox: RwSignal::new(Inbox::new()),
            status: RwSignal::new(Status::Reconnecting),
            open: RwSignal::new(false),
            locale: RwSignal::new(locale),
            announcement: RwSignal::new(String::new()),
            // No language picked yet: `locale` (the page's) shows.
            prefs: RwSignal::new(Preferences::default()),
            topics: RwSignal::new(Vec::new()),
            toasts: RwSignal::new(Vec::new()),
            now: RwSignal::new(now_ms()),
            missed: RwSignal::new(None),
            role: StoredValue::new_local(Role::Solo),
            sender: StoredValue::new_local(Rc::new(RefCell::new(None))),
            store: StoredValue::new_local(None),
            channel: StoredValue::new_local(None),
            bell: StoredValue::new_local(None),
            heard: StoredValue::new_local(Vec::new()),
            number: CENTERS.with(|n| {
                n.set(n.get() + 1);
                n.get()
            }),
        }
    }

    /// The id of one of this center's elements: `base` for a page's first center (so a page
    /// with one center has stable ids), `base-N` for its N-th, so two centers on one page
    /// never share an id (`aria-controls`, `aria-labelledby` and `<label for>` stay right).
    pub fn dom_id(&self, base: &str) -> String {
        if self.number <= 1 {
            base.to_owned()
        } else {
            format!("{base}-{}", self.number)
        }
    }

    /// Attaches the IndexedDB store.
    pub fn set_store(&self, store: Rc<Store>) {
        self.store.set_value(Some(store));
    }

    /// The IndexedDB store, if open.
    pub fn store(&self) -> Option<Rc<Store>> {
        self.store.get_value()
    }

    /// Writes what this tab heard as a follower to IndexedDB (newer versions only), before it
    /// resumes the socket after the highest seq it holds: what the last leader relayed but had
    /// not stored yet is not lost.
    pub async fn store_heard(&self) {
        let heard = std::mem::take(&mut *self.heard.write_value());
        if let (Some(store), false) = (self.store(), heard.is_empty()) {
            if let Err(e) = store.put_all(&heard).await {
                web_sys::console::warn_1(&format!("tidings: {e}").into());
            }
        }
    }

    /// Forgets items that expired by `now`, in the view and in IndexedDB: the panel never
    /// shows them, so the badge must not count them either.
    pub fn drop_expired(&self, now: Millis) {
        if !self
            .inbox
            .with_untracked(|i| i.iter().any(|n| n.is_expired(now)))
        {
            return;
        }
        let gone = self
            .inbox
            .try_update(|i| i.remove_expired(now))
            .unwrap_or_default();
        self.follow_toasts();
        if let (Some(store), false) = (self.store(), gone.is_empty()) {
            let ids: Vec<String> = gone.into_iter().map(|n| n.id).collect();
            leptos::task::spawn_local(async move {
                if let Err(e) = store.delete(&ids).await {
                    web_sys::console::warn_1(&format!("tidings: {e}").into());
                }
            });
        }
    }

    /// Sets (or clears) the live socket's sender.
    pub fn set_sender(&self, sender: Option<UnboundedSender<String>>) {
        *self.sender.get_value().borrow_mut() = sender;
    }

    /// Whether this tab keeps the socket ([`Role::Leader`], [`Role::Solo`]) or follows.
    pub fn role(&self) -> Role {
        self.role.get_value()
    }

    /// Sets this tab's role; a new follower asks the leader for its status.
    pub fn set_role(&self, role: Role) {
        self.role.set_value(role);
        if role == Role::Follower {
            self.post(&TabMessage::Ask);
        }
    }

    /// Sets the connection status; a leader also tells the other tabs.
    pub fn set_status(&self, status: Status) {
        self.status.set(status);
        self.post_status();
    }

    /// After a resume: `count` missed notifications were loaded (0 clears the notice).
    pub fn set_missed(&self, count: u64) {
        self.missed.set((count > 0).then_some(count));
        if count > 0 {
            let locale = self.locale.get_untracked();
            self.announcement
                .set(crate::i18n::missed_loaded(locale, count));
        }
        self.post_status();
    }

    fn post_status(&self) {
        if self.role() == Role::Leader {
            self.post(&TabMessage::Status {
                status: self.status.get_untracked(),
                missed: self.missed.get_untracked(),
            });
        }
    }

    /// A leader passes a frame it received from the edge on to the other tabs.
    pub fn relay(&self, frame_text: &str) {
        if self.role() == Role::Leader {
            self.post(&TabMessage::Frame {
                text: frame_text.to_owned(),
            });
        }
    }

    /// Remembers the bell element (focus returns there when the panel closes).
    pub fn set_bell(&self, bell: web_sys::HtmlElement) {
        self.bell.set_value(Some(bell));
    }

    /// Closes the panel and moves focus back to the bell.
    pub fn close_panel(&self) {
        self.open.set(false);
        if let Some(bell) = self.bell.get_value() {
            let _ = bell.focus();
        }
    }

    /// Unread items (not archived, not read).
    pub fn unread(&self) -> usize {
        self.inbox.with(|i| i.unread())
    }

    /// Highest seq held.
    pub fn last_seq(&self) -> u64 {
        self.inbox.with_untracked(|i| i.max_seq())
    }

    /// Adds or replaces notifications by id (a lower seq never replaces a higher one).
    pub fn upsert(&self, incoming: Vec<Notification>) {
        if incoming.is_empty() {
            return;
        }
        self.inbox.update(|inbox| inbox.extend(incoming));
        self.follow_toasts();
    }

    /// Applies a read-state change locally; returns the changed items.
    pub fn apply_change(&self, ids: &[String], state: ReadState) -> Vec<Notification> {
        let mut changed = Vec::new();
        self.inbox.update(|inbox| {
            let ids = inbox.apply_change(ids, state);
            changed = ids.iter().filter_map(|id| inbox.get(id).cloned()).collect();
        });
        self.follow_toasts();
        changed
    }

    /// Keeps each toast true to its item: a toast stays while the inbox holds its item urgent,
    /// unread and unexpired, and shows the item's latest text; read, archived, expired,
    /// removed or replaced in place by a calmer version (a delivery problem followed by
    /// "delivered"), it goes.
    fn follow_toasts(&self) {
        fn current<'a>(
            inbox: &'a Inbox,
            toast: &Notification,
            now: Millis,
        ) -> Option<&'a Notification> {
            inbox.get(&toast.id).filter(|n| {
                n.priority == Priority::Urgent && n.state == ReadState::Unread && !n.is_expired(now)
            })
        }
        let now = now_ms();
        let stale = self.toasts.with_untracked(|t| {
            self.inbox.with_untracked(|i| {
                t.iter()
                    .any(|toast| current(i, toast, now).is_none_or(|n| n.seq != toast.seq))
            })
        });
        if stale {
            self.inbox.with_untracked(|i| {
                self.toasts.update(|t| {
                    t.retain_mut(|toast| match current(i, toast, now) {
                        Some(n) => {
                            if n.seq != toast.seq {
                                *toast = n.clone();
                            }
                            true
                        }
                        None => false,
                    })
                });
            });
        }
    }

    /// Takes preferences from the edge, the sheet or IndexedDB; a language the shopper picked
    /// switches the UI, none picked leaves the page's.
    fn set_prefs(&self, prefs: Preferences) {
        if let Some(locale) = prefs.locale {
            self.locale.set(locale);
        }
        if let Some(store) = self.store() {
            let p = prefs.clone();
            leptos::task::spawn_local(async move {
                let _ = store.set_prefs(&p).await;
            });
        }
        self.prefs.set(prefs);
    }

    /// Handles one frame from the edge; returns notifications to persist.
    pub fn on_frame(&self, frame: ServerFrame) -> Vec<Notification> {
        match frame {
            ServerFrame::Notify { notification } => {
                let locale = self.locale.get_untracked();
                let title = notification.title.get(locale).to_owned();
                let live = self.status.get_untracked() == Status::Live;
                let urgent = notification.priority == Priority::Urgent
                    && notification.state == ReadState::Unread;
                self.upsert(vec![notification.clone()]);
                if live {
                    self.announcement.set(format!(
                        "{}: {title}",
                        crate::i18n::t(locale, crate::i18n::Text::NewNotification)
                    ));
                    if urgent && !notification.is_expired(now_ms()) {
                        let n = notification.clone();
                        self.toasts.update(|t| {
                            t.retain(|old| old.id != n.id);
                            t.push(n);
                        });
                    }
                }
                vec![notification]
            }
            ServerFrame::Changed { ids, state, .. } => {
                self.apply_change(&ids, state);
                self.inbox
                    .with_untracked(|i| ids.iter().filter_map(|id| i.get(id).cloned()).collect())
            }
            ServerFrame::Synced { .. } => {
                if self.role() != Role::Follower {
                    self.set_status(Status::Live);
                }
                Vec::new()
            }
            ServerFrame::Reset { .. } => {
                self.inbox.set(Inbox::new());
                self.follow_toasts();
                // What a follower heard before is history the edge no longer has.
                self.heard.update_value(Vec::clear);
                Vec::new()
            }
            ServerFrame::Welcome { prefs, topics, .. } => {
                self.set_prefs(prefs);
                self.topics.set(topics);
                Vec::new()
            }
            ServerFrame::Prefs { prefs } => {
                self.set_prefs(prefs);
                Vec::new()
            }
            ServerFrame::Topics { topics } => {
                self.topics.set(topics);
                Vec::new()
            }
            ServerFrame::Error { code, message } => {
                leptos::logging::warn!("tidings: edge refused a frame: {code}: {message}");
                Vec::new()
            }
            ServerFrame::Pong => Vec::new(),
        }
    }

    /// Marks items read/unread/archived: locally at once, then at the edge and in other tabs.
    pub fn mark(&self, ids: Vec<String>, state: ReadState) {
        let changed = self.apply_change(&ids, state);
        self.persist(changed);
        self.broadcast(&ids, state);
        self.send(ClientFrame::Mark { ids, state });
    }

    /// Marks everything read.
    pub fn mark_all_read(&self) {
        let before = self.last_seq();
        let mut ids = Vec::new();
        self.inbox.update(|inbox| ids = inbox.mark_all_read(before));
        if ids.is_empty() {
            return;
        }
        self.follow_toasts();
        let changed = self
            .inbox
            .with_untracked(|i| ids.iter().filter_map(|id| i.get(id).cloned()).collect());
        self.persist(changed);
        self.broadcast(&ids, ReadState::Read);
        self.send(ClientFrame::MarkAllRead { before });
    }

    /// Saves preferences: locally at once, then at the edge.
    pub fn save_prefs(&self, prefs: Preferences) {
        self.set_prefs(prefs.clone());
        // The other tabs apply it as the `prefs` frame the edge will echo.
        self.post(&TabMessage::Local {
            text: ServerFrame::Prefs {
                prefs: prefs.clone(),
            }
            .encode(),
        });
        self.send(ClientFrame::Prefs { prefs });
    }

    /// Switches the UI language and saves it as the shopper's preference.
    pub fn set_locale(&self, locale: Locale) {
        let mut prefs = self.prefs.get_untracked();
        prefs.locale = Some(locale);
        self.save_prefs(prefs);
    }

    /// Watches or stops watching a topic (optimistically; `topics` frames confirm).
    pub fn set_watch(&self, topic: String, watch: bool) {
        self.apply_watch(&topic, watch);
        self.post(&TabMessage::Watch {
            topic: topic.clone(),
            on: watch,
        });
        self.send(if watch {
            ClientFrame::Watch { topic }
        } else {
            ClientFrame::Unwatch { topic }
        });
    }

    /// Removes a toast.
    pub fn dismiss_toast(&self, id: &str) {
        self.toasts.update(|t| t.retain(|n| n.id != id));
    }

    fn persist(&self, items: Vec<Notification>) {
        let Some(store) = self.store() else { return };
        if items.is_empty() {
            return;
        }
        leptos::task::spawn_local(async move {
            let _ = store.put_all(&items).await;
        });
    }

    /// Joins the `BroadcastChannel("tidings-<user>")` shared by this shopper's tabs.
    pub fn join_tabs(&self, user: &str) {
        let Ok(channel) = web_sys::BroadcastChannel::new(&format!("tidings-{user}")) else {
            return;
        };
        let center = *self;
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                if let Some(message) = ev
                    .data()
                    .as_string()
                    .as_deref()
                    .and_then(TabMessage::decode)
                {
                    center.on_tab_message(message);
                }
            });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // The channel lives as long as the page.
        on_message.forget();
        self.channel.set_value(Some(channel));
    }

    /// Handles a message from another tab of this shopper.
    pub fn on_tab_message(&self, message: TabMessage) {
        let role = self.role();
        match message {
            TabMessage::Change { ids, state } => self.apply_from_tab(&ids, state),
            // Frames and status come from the leader; only a follower listens to them.
            TabMessage::Frame { text } if role == Role::Follower => {
                if let Ok(frame) = ServerFrame::decode(&text) {
                    // The leader writes them to IndexedDB; kept until it has had time to.
                    let notes = self.on_frame(frame);
                    self.heard.update_value(|h| {
                        h.extend(notes);
                        let len = h.len();
                        h.drain(..len.saturating_sub(crate::connection::RETENTION));
                    });
                }
            }
            // Another tab's own change of preferences or watches: every tab takes it.
            TabMessage::Local { text } => {
                if let Ok(frame @ ServerFrame::Prefs { .. }) = ServerFrame::decode(&text) {
                    self.on_frame(frame);
                }
            }
            TabMessage::Watch { topic, on } => self.apply_watch(&topic, on),
            TabMessage::Status { status, missed } if role == Role::Follower => {
                self.status.set(status);
                self.missed.set(missed);
            }
            TabMessage::Send { text } if role == Role::Leader => self.send_text(text),
            TabMessage::Ask if role == Role::Leader => self.post_status(),
            _ => {}
        }
    }

    /// Applies a change another tab made: in memory and in IndexedDB (that tab
    /// already told the edge).
    pub fn apply_from_tab(&self, ids: &[String], state: ReadState) {
        self.apply_change(ids, state);
        if let Some(store) = self.store() {
            let ids = ids.to_vec();
            leptos::task::spawn_local(async move {
                let _ = store.apply_change(&ids, state).await;
            });
        }
    }

    fn broadcast(&self, ids: &[String], state: ReadState) {
        self.post(&TabMessage::Change {
            ids: ids.to_vec(),
            state,
        });
    }

    /// Shows `topic` as watched (`on`) or not, here.
    fn apply_watch(&self, topic: &str, on: bool) {
        self.topics.update(|t| {
            t.retain(|x| x != topic);
            if on {
                t.push(topic.to_owned());
            }
        });
    }

    fn post(&self, message: &TabMessage) {
        if let Some(channel) = self.channel.get_value() {
            let _ = channel.post_message(&JsValue::from_str(&message.encode()));
        }
    }

    /// Sends a frame to the edge so that it survives a dead socket: it goes to IndexedDB's
    /// outbox first, then the socket (this tab's, or the leader's) is asked to send what the
    /// outbox holds, and removes it when the edge answers a `ping` sent after it. A socket
    /// that looked open but was dead (a laptop waking up) loses nothing: the next one sends
    /// it again (marks, preferences and watches are idempotent). Without IndexedDB the
    /// frame goes straight to the socket.
    pub fn send(&self, frame: ClientFrame) {
        let text = frame.encode();
        let Some(store) = self.store() else {
            self.send_now(text);
            return;
        };
        let center = *self;
        leptos::task::spawn_local(async move {
            match store.queue_outbox(&text).await {
                Ok(()) => center.send_now(String::new()),
                Err(e) => {
                    web_sys::console::warn_1(&format!("tidings: {e}").into());
                    center.send_now(text);
                }
            }
        });
    }

    /// Hands `text` to this tab's socket, or to the leader's; an empty text asks that socket
    /// to send the outbox.
    fn send_now(&self, text: String) {
        if self.role() == Role::Follower {
            self.post(&TabMessage::Send { text });
        } else {
            self.send_text(text);
        }
    }

    fn send_text(&self, text: String) {
        let sender = self.sender.get_value();
        let sent = sender
            .borrow()
            .as_ref()
            .is_some_and(|s| s.unbounded_send(text.clone()).is_ok());
        // Without a socket the outbox waits for the next one, which sends it after `hello`.
        if !sent && !text.is_empty() {
            if let Some(store) = self.store() {
                leptos::task::spawn_local(async move {
                    let _ = store.queue_outbox(&text).await;
                });
            }
        }
    }
}
