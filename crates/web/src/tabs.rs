//! Tabs of one browser share one socket.
//!
//! Every tab of a shopper joins `BroadcastChannel("tidings-<user>")` and asks for the Web Lock
//! `tidings-socket-<user>`. The tab holding the lock is the **leader**: it runs the connection
//! (`connection::run`), writes what arrives to IndexedDB and relays every server frame and its
//! status to the other tabs. The others are **followers**: they apply the relayed frames, show
//! the leader's status, and hand the frames they want sent (mark, prefs, watch) to the leader.
//! When the leader's tab closes, the browser grants the lock to the next tab, which connects
//! and resumes after the last seq it holds. Read-state changes made in any tab are posted to the
//! others at once, so tabs agree without a round trip to the edge.
//!
//! Without Web Locks (old browsers, insecure origins), or where asking for the lock fails, every
//! tab runs its own socket ([`Role::Solo`]).

use std::cell::RefCell;
use std::rc::Rc;

use tidings_core::notification::ReadState;
use tidings_core::protocol::ServerFrame;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::center::Status;

/// What this tab does about the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Holds the lock and the socket; relays to the other tabs.
    Leader,
    /// Waits for the lock; hears the edge through the leader.
    Follower,
    /// No Web Locks: its own socket, like every other tab.
    Solo,
}

/// A message between tabs of one shopper, as text on the channel.
#[derive(Debug, Clone, PartialEq)]
pub enum TabMessage {
    /// A read-state change made in a tab (the tab also tells the edge).
    Change {
        /// Notification ids.
        ids: Vec<String>,
        /// New state.
        state: ReadState,
    },
    /// A frame the leader received from the edge, as it arrived.
    Frame {
        /// The frame's JSON text.
        text: String,
    },
    /// Preferences a tab changed, as the `prefs` frame the edge will echo: every other tab
    /// applies it at once, so tabs agree also while offline.
    Local {
        /// The frame's JSON text.
        text: String,
    },
    /// A tab watched (`on`) or stopped watching a topic: the change, not the list, so tabs
    /// that knew different lists each apply just this.
    Watch {
        /// The topic.
        topic: String,
        /// Watching or not.
        on: bool,
    },
    /// A client frame a follower asks the leader to send to the edge.
    Send {
        /// The frame's JSON text.
        text: String,
    },
    /// The leader's connection status.
    Status {
        /// Live, reconnecting or offline.
        status: Status,
        /// Notifications loaded by the last resume, when there were any.
        missed: Option<u64>,
    },
    /// A tab that just became a follower asks the leader for its status.
    Ask,
}

/// The channel text: one letter for the kind, then the payload. Frames travel as the protocol's
/// own JSON (a change as a `changed` frame), so no second serde format of their fields is
/// linked into the bundle (a derived, tagged enum here cost 9–16 KB gzip, BENCHMARKS.md).
impl TabMessage {
    /// The message as channel text.
    pub fn encode(&self) -> String {
        match self {
            TabMessage::Change { ids, state } => {
                let frame = ServerFrame::Changed {
                    ids: ids.clone(),
                    state: *state,
                    version: 0,
                };
                format!("c{}", frame.encode())
            }
            TabMessage::Frame { text } => format!("f{text}"),
            TabMessage::Local { text } => format!("l{text}"),
            TabMessage::Watch { topic, on } => format!("w{}{topic}", if *on { '+' } else { '-' }),
            TabMessage::Send { text } => format!("s{text}"),
            TabMessage::Status { status, missed } => {
                let word = match status {
                    Status::Live => "live",
                    Status::Reconnecting => "reconnecting",
                    Status::Offline => "offline",
                };
                match missed {
                    Some(n) => format!("t{word}:{n}"),
                    None => format!("t{word}"),
                }
            }
            TabMessage::Ask => "a".into(),
        }
    }

    /// A message from channel text; `None` for anything else (another version of the page).
    pub fn decode(text: &str) -> Option<TabMessage> {
        let kind = text.chars().next()?;
        let rest = &text[kind.len_utf8()..];
        Some(match kind {
            'c' => match ServerFrame::decode(rest).ok()? {
                ServerFrame::Changed { ids, state, .. } => TabMessage::Change { ids, state },
                _ => return None,
            },
            'f' => TabMessage::Frame { text: rest.into() },
            'l' => TabMessage::Local { text: rest.into() },
            'w' => TabMessage::Watch {
                on: match rest.chars().next()? {
                    '+' => true,
                    '-' => false,
                    _ => return None,
                },
                topic: rest[1..].into(),
            },
            's' => TabMessage::Send { text: rest.into() },
            't' => {
                let (word, missed) = match rest.split_once(':') {
                    Some((w, n)) => (w, Some(n.parse().ok()?)),
                    None => (rest, None),
                };
                let status = match word {
                    "live" => Status::Live,
                    "reconnecting" => Status::Reconnecting,
                    "offline" => Status::Offline,
                    _ => return None,
                };
                TabMessage::Status { status, missed }
            }
            'a' if rest.is_empty() => TabMessage::Ask,
            _ => return None,
        })
    }
}

/// The name of the Web Lock that elects the socket's tab for `user`.
pub fn lock_name(user: &str) -> String {
    format!("tidings-socket-{user}")
}

/// Elects this tab's role for the Web Lock `name` and calls `start` once with it:
/// [`Role::Leader`] when the lock is granted (it is kept for the rest of the page's life),
/// [`Role::Solo`] at once when the browser has no Web Locks, or when the request fails (an
/// origin or frame where `navigator.locks` exists but refuses, e.g. a sandboxed iframe), so a
/// tab never waits as a follower of a leader that cannot exist. Until then the tab follows.
pub fn elect(name: &str, start: impl FnOnce(Role) + 'static) {
    let start = Rc::new(RefCell::new(Some(start)));
    let once = {
        let start = start.clone();
        move |role: Role| {
            if let Some(start) = start.borrow_mut().take() {
                start(role);
            }
        }
    };
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return once(Role::Solo);
    };
    // `navigator.locks` is behind `web_sys_unstable_apis`; reading it by name keeps the build
    // free of unstable cfgs, and tells us whether this browser (and origin) has it at all.
    let locks = js_sys::Reflect::get(&navigator, &JsValue::from_str("locks"))
        .ok()
        .filter(|l| l.is_object());
    let request = locks.as_ref().and_then(|l| {
        js_sys::Reflect::get(l, &JsValue::from_str("request"))
            .ok()?
            .dyn_into::<js_sys::Function>()
            .ok()
    });
    let (Some(locks), Some(request)) = (locks, request) else {
        return once(Role::Solo);
    };
    let granted = {
        let once = once.clone();
        Closure::once_into_js(move |_lock: JsValue| -> JsValue {
            once(Role::Leader);
            // Never settles: the lock is held until the tab goes away.
            js_sys::Promise::new(&mut |_, _| {}).into()
        })
    };
    match request
        .call2(&locks, &JsValue::from_str(name), &granted)
        .ok()
        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok())
    {
        Some(pending) => {
            let refused = Closure::once(move |_e: JsValue| once(Role::Solo));
            let _ = pending.catch(&refused);
            // Called at most once, when the request fails; kept until then.
            refused.forget();
        }
        None => once(Role::Solo),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_back_and_strangers_are_ignored() {
        let all = [
            TabMessage::Change {
                ids: vec!["e:1".into()],
                state: ReadState::Read,
            },
            TabMessage::Frame {
                text: r#"{"type":"pong"}"#.into(),
            },
            TabMessage::Send {
                text: r#"{"type":"ping"}"#.into(),
            },
            TabMessage::Local {
                text: r#"{"type":"prefs","prefs":{"muted":[],"utc_offset_minutes":0}}"#.into(),
            },
            TabMessage::Watch {
                topic: "stock:a".into(),
                on: true,
            },
            TabMessage::Watch {
                topic: "price:b".into(),
                on: false,
            },
            TabMessage::Status {
                status: Status::Live,
                missed: Some(3),
            },
            TabMessage::Status {
                status: Status::Offline,
                missed: None,
            },
            TabMessage::Ask,
        ];
        for m in all {
            assert_eq!(TabMessage::decode(&m.encode()), Some(m));
        }
        for stranger in [
            r#"{"ids":["a"],"state":"read"}"#,
            "",
            "x",
            "tsleeping",
            "tlive:many",
            "aa",
            r#"c{"type":"pong"}"#,
            "w",
            "wxstock:a",
        ] {
            assert_eq!(TabMessage::decode(stranger), None, "{stranger}");
        }
    }
}
