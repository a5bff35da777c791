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

    /// Encodes the frame as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("frames serialize")
    }
}

impl ServerFrame {
    /// Encodes the frame as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("frames serialize")
    }

    /// Decodes a server frame (used by clients and tests).
    pub fn decode(text: &str) -> Result<ServerFrame, ProtocolError> {
        serde_json::from_str(text).map_err(|e| ProtocolError::BadFrame(e.to_string()))
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

    #[test]
    fn server_frames_round_trip() {
        let f = ServerFrame::Synced { head: 3 };
        assert_eq!(f.encode(), r#"{"type":"synced","head":3}"#);
        assert_eq!(ServerFrame::decode(&f.encode()).unwrap(), f);
    }
}
