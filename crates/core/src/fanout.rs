//! A topic's fan-out across retries: which members still need which events.
//!
//! A Topic marks an event fanned out only when every member's Inbox has it; when some Inbox
//! calls fail, the producer is told to retry. The members reached are remembered per event,
//! so the retry calls only the Inboxes that missed it instead of every member again (a
//! segment of 100,000 shoppers with one failure costs one call on retry, not 100,000).

use std::collections::HashSet;

/// The id a delivery through `route` (a topic or segment object's name, `topic:stock:sku-1`)
/// is de-duplicated by, in the Topic and in each member's Inbox: the event's id and the route.
/// A producer's retry of the event takes the same route, so it stays a duplicate; the same
/// event reaching a shopper by another route too (one rule to `user:…`, another to a topic
/// they watch) is a different delivery, and both arrive.
pub fn route_key(event_id: &str, route: &str) -> String {
    format!("{event_id}@{route}")
}

/// The ids a Topic finds a delivery's event under: its [`route_key`], and the bare event id
/// that Topics and Inboxes stored before route keys (so a producer's retry of an event
/// fanned out before an upgrade stays a duplicate, and a partial fan-out's retry still skips
/// the members it reached).
pub fn stored_ids(key: &str) -> impl Iterator<Item = &str> {
    let bare = ["@topic:", "@segment:"]
        .iter()
        .filter_map(|route| key.rfind(route))
        .max()
        .map(|at| &key[..at]);
    std::iter::once(key).chain(bare)
}

/// What each member is owed: `(member, indexes into events)`, members owed nothing left out,
/// in the order of `members`. `reached` holds the `(event id, member)` pairs that earlier tries
/// delivered.
pub fn owed<'a>(
    members: &'a [String],
    events: &[&str],
    reached: &HashSet<(String, String)>,
) -> Vec<(&'a str, Vec<usize>)> {
    members
        .iter()
        .filter_map(|member| {
            let owed: Vec<usize> = events
                .iter()
                .enumerate()
                .filter(|(_, id)| !reached.contains(&((**id).to_owned(), member.clone())))
                .map(|(i, _)| i)
                .collect();
            (!owed.is_empty()).then_some((member.as_str(), owed))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;

    #[test]
    fn a_route_key_tells_routes_apart_and_repeats_for_a_retry() {
        let topic = route_key("e-1", "topic:stock:a");
        assert_ne!(topic, route_key("e-1", "segment:all"));
        assert_ne!(topic, route_key("e-2", "topic:stock:a"));
        assert_eq!(topic, route_key("e-1", "topic:stock:a"));
    }

    #[test]
    fn a_route_key_is_found_under_itself_and_the_bare_id_stored_before() {
        let ids = |k: &str| stored_ids(k).map(str::to_owned).collect::<Vec<_>>();
        let key = route_key("order@shop-1", "topic:stock:a@b");
        assert_eq!(ids(&key), [key.as_str(), "order@shop-1"]);
        let key = route_key("e-1", "segment:all");
        assert_eq!(ids(&key), [key.as_str(), "e-1"]);
        // A bare id (stored before route keys) is only itself.
        assert_eq!(ids("e-1"), ["e-1"]);
    }

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("u{i}")).collect()
    }

    #[test]
    fn a_first_try_owes_every_member_every_event() {
        let m = members(3);
        let plan = owed(&m, &["e1", "e2"], &HashSet::new());
        assert_eq!(
            plan,
            vec![("u0", vec![0, 1]), ("u1", vec![0, 1]), ("u2", vec![0, 1])]
        );
    }

    #[test]
    fn a_retry_owes_only_what_earlier_tries_did_not_deliver() {
        let m = members(4);
        // The first try reached u0 and u2 with both events, u3 with e1 only (a retry batched
        // with another event), and failed for u1.
        let reached: HashSet<(String, String)> = [
            ("e1", "u0"),
            ("e2", "u0"),
            ("e1", "u2"),
            ("e2", "u2"),
            ("e1", "u3"),
        ]
        .into_iter()
        .map(|(e, u)| (e.to_owned(), u.to_owned()))
        .collect();
        let plan = owed(&m, &["e1", "e2"], &reached);
        assert_eq!(plan, vec![("u1", vec![0, 1]), ("u3", vec![1])]);
        // A member who joined since is owed everything; a new event goes to everyone.
        let mut more = m.clone();
        more.push("u4".into());
        let plan = owed(&more, &["e2", "e3"], &reached);
        assert_eq!(
            plan,
            vec![
                ("u0", vec![1]),
                ("u1", vec![0, 1]),
                ("u2", vec![1]),
                ("u3", vec![0, 1]),
                ("u4", vec![0, 1])
            ]
        );
    }

    #[test]
    fn nothing_is_owed_once_everyone_has_everything() {
        let m = members(2);
        let reached: HashSet<(String, String)> =
            m.iter().map(|u| ("e1".to_owned(), u.clone())).collect();
        assert!(owed(&m, &["e1"], &reached).is_empty());
        assert!(owed(&m, &[], &HashSet::new()).is_empty());
    }
}
