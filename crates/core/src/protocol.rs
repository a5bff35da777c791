//! The WebSocket protocol between the edge's Inbox and the notification center.
//!
//! Frames are JSON objects tagged by `type`. The client opens with
//! `hello {v, after}`; the Inbox answers `welcome`, replays every newer
//! notification in order as `notify`, says `synced`, then streams live ones.
//! Anything malformed decodes to a [`ProtocolError`] (answered with an
//! `error` frame), never a panic.

use serde::{Deserialize, Serialize};

use crate::notification::{Notification, ReadState};
use crate::prefs::Preferences;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame a client may send, in bytes.
pub const MAX_CLIENT_FRAME_BYTES: usize = 64 * 1024;
/// Most ids in one `mark` frame.
pub const MAX_MARK_IDS: usize = 1000;

/// A `ping` the Inbox answers itself, after the frames sent before it on the socket, where the
/// heartbeat's exact text ([`ClientFrame::Ping`]) is answered by the runtime at once, without
/// waking the Inbox and so before it has handled what came first. The center sends this one
/// after its outbox's frames: its `pong` means the Inbox handled them, and only then do they
/// leave the outbox. It decodes as [`ClientFrame::Ping`] (the extra field is ignored).
pub const HANDLED_PING: &str = r#"{"type":"ping","handled":true}"#;

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Start or resume: replay everything after `after`.
    Hello {
        /// Protocol version the client speaks.
        #[serde(default = "default_version")]
        v: u32,
        /// Last seq the client stored (0 for none).
        #[serde(default)]
        after: u64,
        /// Last read-state version the client applied (0 for none).
        #[serde(default)]
        changes_after: u64,
    },
    /// Set the read state of some notifications.
    Mark {
        /// Notification ids.
        ids: Vec<String>,
        /// New state.
        state: ReadState,
    },
    /// Mark every notification up to `before` (inclusive) read.
    MarkAllRead {
        /// Highest seq to mark.
        before: u64,
    },
    /// Replace the shopper's preferences.
    Prefs {
        /// New preferences.
        prefs: Preferences,
    },
    /// Watch a topic, e.g. `watch:sku-123` for back-in-stock news.
    Watch {
        /// Topic name.
        topic: String,
    },
    /// Stop watching a topic.
    Unwatch {
        /// Topic name.
        topic: String,
    },
    /// Keep-alive; answered with `pong`.
    Ping,
}

fn default_version() -> u32 {
    PROTOCOL_VERSION
}

/// Frames the edge sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Answer to `hello`.
    Welcome {
        /// Protocol version the edge speaks.
        v: u32,
        /// The user this socket belongs to.
        user: String,
        /// Highest seq in the log.
        head: u64,
        /// Current read-state version.
        version: u64,
        /// The shopper's preferences.
        prefs: Preferences,
        /// Topics the shopper watches.
        #[serde(default)]
        topics: Vec<String>,
    },
    /// A notification (replayed or live).
    Notify {
        /// The notification, with its `seq`.
        notification: Notification,
    },
    /// Replay is complete; what follows is live.
    Synced {
        /// Highest seq in the log.
        head: u64,
    },
    /// Read state changed (on another device, or echoing this one).
    Changed {
        /// Notification ids.
        ids: Vec<String>,
        /// New state.
        state: ReadState,
        /// Read-state version after this change.
        version: u64,
    },
    /// Preferences changed.
    Prefs {
        /// New preferences.
        prefs: Preferences,
    },
    /// Topics watched changed.
    Topics {
        /// Topics now watched.
        topics: Vec<String>,
    },
    /// The client's cursor is older than what the log keeps: drop local state
    /// older than `oldest` and resync.
    Reset {
        /// Oldest seq still kept.
        oldest: u64,
    },
    /// Something the client sent was refused.
    Error {
        /// Machine-readable code.
        code: String,
        /// What went wrong.
        message: String,
    },
    /// Answer to `ping`.
    Pong,
}

/// Why a client frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Larger than [`MAX_CLIENT_FRAME_BYTES`].
    #[error("frame is {0} bytes; the limit is 65536")]
    TooLarge(usize),
    /// Not a known frame, or fields are wrong.
    #[error("bad frame: {0}")]
    BadFrame(String),
    /// The client speaks a protocol version this edge does not.
    #[error("protocol version {0} is not supported; this edge speaks version 1")]
    Version(u32),
    /// Too many ids in one `mark`.
    #[error("a mark frame may carry at most 1000 ids")]
    TooManyIds,
}

impl ProtocolError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::TooLarge(_) => "frame_too_large",
            ProtocolError::BadFrame(_) => "bad_frame",
            ProtocolError::Version(_) => "unsupported_version",
            ProtocolError::TooManyIds => "too_many_ids",
        }
    }

    /// The `error` frame that answers this.
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::Error {
            code: self.code().into(),
            message: self.to_string(),
        }
    }
}

impl ClientFrame {
    /// Decodes and validates one client frame.
    pub fn decode(text: &str) -> Result<ClientFrame, ProtocolError> {
        if text.len() > MAX_CLIENT_FRAME_BYTES {
            return Err(ProtocolError::TooLarge(text.len()));
        }
        let frame: ClientFrame =
            serde_json::from_str(text).map_err(|e| ProtocolError::BadFrame(e.to_string()))?;
        match &frame {
            ClientFrame::Hello { v, .. } if *v != PROTOCOL_VERSION => {
                Err(ProtocolError::Version(*v))
            }
            ClientFrame::Mark { ids, .. } if ids.len() > MAX_MARK_IDS => {
                Err(ProtocolError::TooManyIds)
            }
            ClientFrame::Prefs { prefs } => match prefs.validate() {
                Ok(()) => Ok(frame),
                Err(e) => Err(ProtocolError::BadFrame(e.to_string())),
            },
            ClientFrame::Watch { topic } | ClientFrame::Unwatch { topic }
                if topic.is_empty() || topic.len() > 200 =>
            {
                Err(ProtocolError::BadFrame(
                    "topic must be 1 to 200 bytes".into(),
                ))
            }
            _ => Ok(frame),
        }
    }

    /// Encodes the frame as JSON text (as `serde_json` writes it, by [`crate::wire`]).
    pub fn encode(&self) -> String {
        crate::wire::ToJson::to_json(self)
    }
}

impl ServerFrame {
    /// Encodes the frame as JSON text (as `serde_json` writes it, by [`crate::wire`]).
    pub fn encode(&self) -> String {
        crate::wire::ToJson::to_json(self)
    }

    /// Decodes a server frame (used by clients and tests).
    ///
    /// Read by [`crate::wire`], without serde: every frame that the derived `Deserialize`
    /// accepts as a JSON object decodes to the same value (tested, and fuzzed by
    /// `server_frame`); unlike the derive it refuses the array form of a frame or of a struct
    /// inside it (`["synced", 3]`, `"prefs": []`, which no edge sends), and it checks the
    /// fields it ignores only for being strict JSON (`{"type":"pong","x":1e400}` is a pong).
    pub fn decode(text: &str) -> Result<ServerFrame, ProtocolError> {
        crate::wire::from_text(text).map_err(|e| ProtocolError::BadFrame(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;

    #[test]
    fn decodes_client_frames() {
        assert_eq!(
            ClientFrame::decode(r#"{"type":"hello","after":7}"#).unwrap(),
            ClientFrame::Hello {
                v: 1,
                after: 7,
                changes_after: 0
            }
        );
        assert_eq!(
            ClientFrame::decode(r#"{"type":"mark","ids":["a"],"state":"read"}"#).unwrap(),
            ClientFrame::Mark {
                ids: vec!["a".into()],
                state: ReadState::Read
            }
        );
        assert_eq!(
            ClientFrame::decode(r#"{"type":"ping"}"#).unwrap(),
            ClientFrame::Ping
        );
        // The ping answered after what came before: a ping, but not the heartbeat's text.
        assert_eq!(
            ClientFrame::decode(HANDLED_PING).unwrap(),
            ClientFrame::Ping
        );
        assert_ne!(HANDLED_PING, ClientFrame::Ping.encode());
    }

    #[test]
    fn malformed_frames_are_clear_errors() {
        for (text, code) in [
            ("", "bad_frame"),
            ("{", "bad_frame"),
            ("[]", "bad_frame"),
            (r#"{"type":"launch_missiles"}"#, "bad_frame"),
            (r#"{"type":"hello","after":"x"}"#, "bad_frame"),
            (r#"{"type":"hello","v":9}"#, "unsupported_version"),
            (
                r#"{"type":"mark","ids":["a"],"state":"eaten"}"#,
                "bad_frame",
            ),
            (r#"{"type":"watch","topic":""}"#, "bad_frame"),
        ] {
            assert_eq!(
                ClientFrame::decode(text).unwrap_err().code(),
                code,
                "{text}"
            );
        }
        let big = format!(r#"{{"type":"watch","topic":"{}"}}"#, "x".repeat(70_000));
        assert_eq!(
            ClientFrame::decode(&big).unwrap_err().code(),
            "frame_too_large"
        );
    }

    /// One frame of every server type, as the edge writes them.
    fn server_samples() -> Vec<serde_json::Value> {
        let notification = serde_json::json!({
            "id": "e:1", "seq": 4, "type": "order.shipped", "category": "order",
            "priority": "high", "title": {"en": "Shipped", "zh": "已发货"},
            "body": {"en": "On its way", "zh": "在路上"}, "link": "/orders/1",
            "created_at": 1_700_000_000_000i64, "collapse_key": "order:1", "state": "unread",
            "ingested_at": 1_700_000_000_100i64
        });
        let prefs = serde_json::to_value(Preferences::default()).unwrap();
        [
            serde_json::json!({"type": "welcome", "v": 1, "user": "alice", "head": 9, "version": 2, "prefs": prefs, "topics": ["stock:sku-1"]}),
            serde_json::json!({"type": "notify", "notification": notification}),
            serde_json::json!({"type": "synced", "head": 9}),
            serde_json::json!({"type": "changed", "ids": ["e:1"], "state": "read", "version": 3}),
            serde_json::json!({"type": "prefs", "prefs": prefs}),
            serde_json::json!({"type": "topics", "topics": []}),
            serde_json::json!({"type": "reset", "oldest": 5}),
            serde_json::json!({"type": "error", "code": "bad_frame", "message": "no"}),
            serde_json::json!({"type": "pong"}),
        ]
        .into()
    }

    #[test]
    fn server_frame_decode_accepts_what_the_derive_accepts() {
        let mut texts: Vec<String> = ["", "[]", "1", "{}", r#"{"type":1}"#, r#"{"type":"nope"}"#]
            .map(String::from)
            .into();
        let wrong = [
            serde_json::json!(null),
            serde_json::json!(1),
            serde_json::json!(-1),
            serde_json::json!(1.5),
            serde_json::json!("x"),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!(true),
        ];
        for sample in server_samples() {
            texts.push(sample.to_string());
            let obj = sample.as_object().unwrap();
            let mut extra = obj.clone();
            extra.insert("later_field".into(), serde_json::json!(1));
            texts.push(serde_json::Value::Object(extra).to_string());
            for key in obj.keys() {
                let mut without = obj.clone();
                without.remove(key);
                texts.push(serde_json::Value::Object(without).to_string());
                for w in &wrong {
                    let mut changed = obj.clone();
                    changed.insert(key.clone(), w.clone());
                    texts.push(serde_json::Value::Object(changed).to_string());
                }
            }
        }
        let mut accepted = 0;
        for text in &texts {
            let derived = serde_json::from_str::<ServerFrame>(text).ok();
            let decoded = ServerFrame::decode(text).ok();
            // The derive also reads a struct from an array of its fields in order: `"prefs": []`
            // is all defaults to it. No edge writes that; `decode` refuses it.
            if text.contains(r#""prefs":[]"#) {
                assert!(derived.is_some() && decoded.is_none(), "{text}");
                continue;
            }
            assert_eq!(decoded, derived, "{text}");
            accepted += usize::from(decoded.is_some());
        }
        // Every sample, with or without an extra field, and the defaulted `topics` missing.
        assert!(
            accepted >= 19,
            "only {accepted} of {} accepted",
            texts.len()
        );
    }

    #[test]
    fn server_frame_decode_differs_from_the_derive_only_where_documented() {
        // The array form of an internally tagged enum: the derive takes it, no edge sends it.
        assert!(serde_json::from_str::<ServerFrame>(r#"["synced",3]"#).is_ok());
        assert_eq!(
            ServerFrame::decode(r#"["synced",3]"#).unwrap_err().code(),
            "bad_frame"
        );
        // Ignored fields are skipped, not checked: the derive buffers and so parses them.
        let lax = r#"{"type":"pong","x":1e400}"#;
        assert!(serde_json::from_str::<ServerFrame>(lax).is_err());
        assert_eq!(ServerFrame::decode(lax).unwrap(), ServerFrame::Pong);
    }

    #[test]
    fn server_frames_round_trip() {
        for sample in server_samples() {
            let frame = ServerFrame::decode(&sample.to_string()).unwrap();
            assert_eq!(ServerFrame::decode(&frame.encode()).unwrap(), frame);
        }
        let f = ServerFrame::Synced { head: 3 };
        assert_eq!(f.encode(), r#"{"type":"synced","head":3}"#);
        assert_eq!(ServerFrame::decode(&f.encode()).unwrap(), f);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Text shaped like frames: a known or unknown type and a few members of any JSON kind.
    fn frame_like() -> impl Strategy<Value = String> {
        let kind = prop::sample::select(vec![
            "hello",
            "mark",
            "mark_all_read",
            "prefs",
            "watch",
            "unwatch",
            "ping",
            "welcome",
            "notify",
            "synced",
            "changed",
            "reset",
            "error",
            "pong",
            "topics",
            "x",
        ]);
        let key = prop::sample::select(vec![
            "v",
            "after",
            "ids",
            "state",
            "before",
            "prefs",
            "topic",
            "head",
            "notification",
            "version",
            "user",
            "oldest",
            "code",
            "message",
            "topics",
            "changes_after",
        ]);
        let value = prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "1e400",
            "18446744073709551616",
            "\"read\"",
            "\"\"",
            "null",
            "true",
            "[]",
            "[\"a\"]",
            "{}",
            "{\"muted\":[\"promo\"]}",
            "\"\\u0000\"",
        ]);
        (kind, prop::collection::vec((key, value), 0..5)).prop_map(|(kind, members)| {
            let mut text = format!("{{\"type\":\"{kind}\"");
            for (k, v) in members {
                text.push_str(&format!(",\"{k}\":{v}"));
            }
            text.push('}');
            text
        })
    }

    proptest! {
        /// Any text, frame-shaped or not, decodes to a frame or a clear error, never a panic;
        /// whatever decodes reads back the same after `encode`.
        #[test]
        fn frames_decode_or_fail_cleanly(text in prop_oneof![any::<String>(), frame_like()]) {
            if let Ok(frame) = ClientFrame::decode(&text) {
                prop_assert_eq!(ClientFrame::decode(&frame.encode()).ok(), Some(frame));
            }
            if let Ok(frame) = ServerFrame::decode(&text) {
                prop_assert_eq!(ServerFrame::decode(&frame.encode()).ok(), Some(frame));
            }
        }
    }
}
