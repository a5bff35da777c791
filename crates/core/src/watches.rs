//! The topics a shopper watches ("tell me when this is back in stock"), bounded.
//!
//! Every topic is a Durable Object at the edge, created on its first watcher, so a client that
//! could watch without limit could create objects without limit. A shopper watches at most
//! [`MAX_WATCHED_TOPICS`]; past that, a `watch` is refused with `too_many_topics` until they
//! unwatch one. The list keeps the order the shopper watched in.

use crate::protocol::ServerFrame;

/// The most topics one shopper can watch at once.
pub const MAX_WATCHED_TOPICS: usize = 100;

/// Why a `watch` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The shopper already watches [`MAX_WATCHED_TOPICS`] topics.
    #[error("a shopper can watch at most 100 topics; unwatch one before watching another")]
    TooMany,
}

impl WatchError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            WatchError::TooMany => "too_many_topics",
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

/// Whether `topic` may be watched next to `topics`: one already watched always may (watching
/// again is how a client repairs a half-done watch), a new one only below the cap.
pub fn check(topics: &[String], topic: &str) -> Result<(), WatchError> {
    if topics.len() >= MAX_WATCHED_TOPICS && !is_watched(topics, topic) {
        return Err(WatchError::TooMany);
    }
    Ok(())
}

/// Whether `topic` is in `topics`; unwatching one that is not changes nothing and calls no
/// Topic (each name is a Durable Object at the edge).
pub fn is_watched(topics: &[String], topic: &str) -> bool {
    topics.iter().any(|t| t == topic)
}

/// Adds `topic` to `topics` when [`check`] allows it: `Ok(true)` if it was added, `Ok(false)`
/// if it was already watched.
pub fn watch(topics: &mut Vec<String>, topic: &str) -> Result<bool, WatchError> {
    check(topics, topic)?;
    if is_watched(topics, topic) {
        return Ok(false);
    }
    topics.push(topic.to_owned());
    Ok(true)
}

/// Removes `topic` from `topics`; whether it was there.
pub fn unwatch(topics: &mut Vec<String>, topic: &str) -> bool {
    let before = topics.len();
    topics.retain(|t| t != topic);
    topics.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;

    #[test]
    fn watching_adds_once_in_order() {
        let mut topics = Vec::new();
        assert_eq!(watch(&mut topics, "stock:a"), Ok(true));
        assert_eq!(watch(&mut topics, "price:b"), Ok(true));
        assert_eq!(watch(&mut topics, "stock:a"), Ok(false));
        assert_eq!(topics, ["stock:a", "price:b"]);
        assert!(unwatch(&mut topics, "stock:a"));
        assert!(!unwatch(&mut topics, "stock:a"));
        assert_eq!(topics, ["price:b"]);
        assert!(is_watched(&topics, "price:b") && !is_watched(&topics, "stock:a"));
    }

    #[test]
    fn the_hundred_and_first_topic_is_refused_until_one_is_unwatched() {
        let mut topics: Vec<String> = (0..MAX_WATCHED_TOPICS)
            .map(|i| format!("stock:{i}"))
            .collect();
        assert_eq!(watch(&mut topics, "stock:new"), Err(WatchError::TooMany));
        assert_eq!(topics.len(), MAX_WATCHED_TOPICS);
        // Watching one already watched is still fine at the cap.
        assert_eq!(watch(&mut topics, "stock:7"), Ok(false));
        assert!(unwatch(&mut topics, "stock:7"));
        assert_eq!(watch(&mut topics, "stock:new"), Ok(true));
        assert_eq!(
            WatchError::TooMany.to_frame().encode(),
            r#"{"type":"error","code":"too_many_topics","message":"a shopper can watch at most 100 topics; unwatch one before watching another"}"#
        );
    }
}
