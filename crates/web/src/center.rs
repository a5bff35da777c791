//! The reactive state of one notification center and how server frames change it.
//!
//! Items are kept by id, so a replayed notification never shows twice and a
//! newer item with the same collapse key (same id) replaces the old one in
//! place. Frames that must reach the edge go through [`Center::send`]: live
//! over the socket, or queued in IndexedDB while offline.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use tidings_core::notification::{Locale, Notification, ReadState};
use tidings_core::protocol::{ClientFrame, ServerFrame};

use crate::store::Store;

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
    /// Every known notification, newest seq first.
    pub items: RwSignal<Vec<Notification>>,
    /// Connection status.
    pub status: RwSignal<Status>,
    /// Whether the panel is open.
    pub open: RwSignal<bool>,
    /// UI language.
    pub locale: RwSignal<Locale>,
    /// Text announced to screen readers (aria-live).
    pub announcement: RwSignal<String>,
    /// Where frames go: the live socket, if any.
    sender: StoredValue<Rc<RefCell<Option<UnboundedSender<String>>>>, LocalStorage>,
    /// The IndexedDB store, once open.
    store: StoredValue<Option<Rc<Store>>, LocalStorage>,
}

impl Center {
    /// A new, empty center.
    pub fn new(locale: Locale) -> Self {
        Center {
            items: RwSignal::new(Vec::new()),
            status: RwSignal::new(Status::Reconnecting),
            open: RwSignal::new(false),
            locale: RwSignal::new(locale),
            announcement: RwSignal::new(String::new()),
            sender: StoredValue::new_local(Rc::new(RefCell::new(None))),
            store: StoredValue::new_local(None),
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

    /// Sets (or clears) the live socket's sender.
    pub fn set_sender(&self, sender: Option<UnboundedSender<String>>) {
        *self.sender.get_value().borrow_mut() = sender;
    }

    /// Unread items (not archived, not read).
    pub fn unread(&self) -> usize {
        self.items.with(|items| items.iter().filter(|n| n.state == ReadState::Unread).count())
    }

    /// Highest seq held.
    pub fn last_seq(&self) -> u64 {
        self.items.with_untracked(|items| items.iter().map(|n| n.seq).max().unwrap_or(0))
    }

    /// Adds or replaces notifications by id (a lower seq never replaces a higher one).
    pub fn upsert(&self, incoming: Vec<Notification>) {
        if incoming.is_empty() {
            return;
        }
        self.items.update(|items| {
            for n in incoming {
                match items.iter_mut().find(|old| old.id == n.id) {
                    Some(old) if old.seq <= n.seq => *old = n,
                    Some(_) => {}
                    None => items.push(n),
                }
            }
            items.sort_by(|a, b| b.seq.cmp(&a.seq));
        });
    }

    /// Applies a read-state change locally.
    pub fn apply_change(&self, ids: &[String], state: ReadState) {
        self.items.update(|items| {
            for n in items.iter_mut().filter(|n| ids.contains(&n.id)) {
                n.state = state;
            }
        });
    }

    /// Handles one frame from the edge; returns notifications to persist.
    pub fn on_frame(&self, frame: ServerFrame) -> Vec<Notification> {
        match frame {
            ServerFrame::Notify { notification } => {
                let title = notification.title.get(self.locale.get_untracked()).to_owned();
                self.upsert(vec![notification.clone()]);
                if self.status.get_untracked() == Status::Live {
                    self.announcement.set(title);
                }
                vec![notification]
            }
            ServerFrame::Changed { ids, state, .. } => {
                self.apply_change(&ids, state);
                let changed = self.items.with_untracked(|items| items.iter().filter(|n| ids.contains(&n.id)).cloned().collect());
                changed
            }
            ServerFrame::Synced { .. } => {
                self.status.set(Status::Live);
                Vec::new()
            }
            ServerFrame::Reset { .. } => {
                self.items.set(Vec::new());
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Marks items read/unread/archived: locally at once, then at the edge.
    pub fn mark(&self, ids: Vec<String>, state: ReadState) {
        self.apply_change(&ids, state);
        self.persist_changed(&ids);
        self.send(ClientFrame::Mark { ids, state });
    }

    /// Marks everything read.
    pub fn mark_all_read(&self) {
        let ids: Vec<String> =
            self.items.with_untracked(|items| items.iter().filter(|n| n.state == ReadState::Unread).map(|n| n.id.clone()).collect());
        if ids.is_empty() {
            return;
        }
        let before = self.last_seq();
        self.apply_change(&ids, ReadState::Read);
        self.persist_changed(&ids);
        self.send(ClientFrame::MarkAllRead { before });
    }

    fn persist_changed(&self, ids: &[String]) {
        let Some(store) = self.store() else { return };
        let items: Vec<Notification> =
            self.items.with_untracked(|all| all.iter().filter(|n| ids.contains(&n.id)).cloned().collect());
        leptos::task::spawn_local(async move {
            let _ = store.put_all(&items).await;
        });
    }

    /// Sends a frame now, or queues it in IndexedDB until the next connection.
    pub fn send(&self, frame: ClientFrame) {
        let text = frame.encode();
        let sender = self.sender.get_value();
        let sent = sender.borrow().as_ref().is_some_and(|s| s.unbounded_send(text.clone()).is_ok());
        if !sent {
            if let Some(store) = self.store() {
                leptos::task::spawn_local(async move {
                    let _ = store.queue_outbox(&text).await;
                });
            }
        }
    }
}
