//! The thin path against a real workerd: a signed POST reaches the right
//! shopper's socket, and nobody else's; bad signatures and tokens are refused.

use std::time::Duration;

use serde_json::json;
use tidings_core::protocol::ServerFrame;
use tidings_e2e::{now_secs, token_for, Edge, INGEST_SECRET};

fn shipped(id: &str, user: &str, order: &str) -> serde_json::Value {
    json!({"id": id, "type": "order.shipped", "occurred_at": now_secs(), "user_id": user,
           "data": {"order_id": order, "order_number": format!("#{order}"), "carrier": "UPS", "tracking_number": "1Z999"}})
}

#[tokio::test]
async fn signed_event_reaches_only_its_shopper() {
    let edge = Edge::start().await;
    let health = edge.get_json("/v1/health").await;
    assert_eq!(health["version"], tidings_core::VERSION);

    let mut alice = edge.connect("alice").await;
    let mut bob = edge.connect("bob").await;
    assert_eq!(alice.hello(0).await, (0, vec![]));
    assert_eq!(bob.hello(0).await, (0, vec![]));

    let (status, body) = edge
        .post_events(json!([shipped("evt-1", "alice", "1001")]))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["results"][0]["status"], "accepted", "{body}");

    match alice.next().await {
        ServerFrame::Notify { notification } => {
            assert_eq!(notification.seq, 1);
            assert_eq!(notification.kind, "order.shipped");
            assert!(
                notification.title.en.contains("1001"),
                "{:?}",
                notification.title
            );
            assert!(!notification.title.zh.is_empty());
        }
        other => panic!("expected notify, got {other:?}"),
    }
    assert!(
        bob.next_within(Duration::from_millis(1500)).await.is_none(),
        "bob must receive nothing"
    );

    // The same id again is a duplicate and is not delivered twice.
    let (_, body) = edge
        .post_events(json!([shipped("evt-1", "alice", "1001")]))
        .await;
    assert_eq!(body["results"][0]["status"], "duplicate", "{body}");
    assert!(alice
        .next_within(Duration::from_millis(1000))
        .await
        .is_none());

    // A new socket resuming after seq 0 gets the stored notification; after 1, nothing.
    let mut again = edge.connect("alice").await;
    let (head, items) = again.hello(0).await;
    assert_eq!((head, items.len()), (1, 1));
    let mut resumed = edge.connect("alice").await;
    assert_eq!(resumed.hello(1).await.1.len(), 0);
}

#[tokio::test]
async fn bad_signatures_and_tokens_are_refused() {
    let edge = Edge::start().await;
    let body = serde_json::to_vec(&json!({"events": [shipped("evt-x", "carol", "7")]})).unwrap();
    let t = now_secs();
    let cases = [
        ("missing", None),
        (
            "wrong secret",
            Some(tidings_core::signature::sign_tidings(
                b"not-the-secret",
                t,
                &body,
            )),
        ),
        (
            "too old",
            Some(tidings_core::signature::sign_tidings(
                INGEST_SECRET.as_bytes(),
                t - 301,
                &body,
            )),
        ),
        ("garbage", Some("t=abc,v1=zz".to_owned())),
    ];
    // What a leaky error message would show: the signature that would have been right.
    let right = tidings_core::signature::sign_tidings(INGEST_SECRET.as_bytes(), t, &body);
    let right_hex = right.split("v1=").nth(1).unwrap().to_owned();
    let mut answers = Vec::new();
    for (name, sig) in cases {
        let (status, resp) = edge.post_events_raw(body.clone(), sig).await;
        answers.push(resp.to_string());
        assert_eq!(status, 401, "{name}: {resp}");
        assert!(
            resp["error"]["code"]
                .as_str()
                .unwrap()
                .starts_with("signature_"),
            "{name}: {resp}"
        );
    }
    // Nothing was stored for carol.
    let mut carol = edge.connect("carol").await;
    assert_eq!(carol.hello(0).await, (0, vec![]));

    // Bad or expired tokens get 401 and no upgrade.
    for token in [
        token_for("carol", -10),
        "not.a.jwt".to_owned(),
        String::new(),
    ] {
        let resp = edge
            .http
            .get(edge.url(&format!("/v1/connect?token={token}")))
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "token {token:?}");
        answers.push(resp.text().await.unwrap());
    }
    // No secret (nor the signature it would have given) in any answer or in the edge's log.
    let log = edge.log_text();
    for secret in tidings_e2e::SECRETS
        .iter()
        .copied()
        .chain([right_hex.as_str()])
    {
        for answer in &answers {
            assert!(
                !answer.contains(secret),
                "an answer leaks a secret: {answer}"
            );
        }
        assert!(!log.contains(secret), "the edge's log leaks a secret");
    }
}

#[tokio::test]
async fn a_bad_event_does_not_spoil_the_batch() {
    let edge = Edge::start().await;
    let mut nobody = shipped("bad-3", "dave", "3");
    nobody.as_object_mut().unwrap().remove("user_id");
    let (status, body) = edge
        .post_events(json!([
            shipped("good-1", "dave", "1"),
            {"id": "bad-1", "type": "order.shipped", "occurred_at": true, "user_id": "dave"},
            {"id": "bad-2", "type": "no.such_type", "occurred_at": now_secs(), "user_id": "dave"},
            shipped("good-2", "dave", "2"),
            // The same event twice in one batch is delivered once.
            shipped("good-2", "dave", "2"),
            // A shopper's event naming no shopper reaches nobody: rejected, not "accepted".
            nobody,
            // A rejected event sent again, corrected, is not a duplicate: nothing was stored.
            shipped("bad-2", "dave", "4"),
        ]))
        .await;
    assert_eq!(status, 202, "{body}");
    let statuses: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "accepted",
            "rejected",
            "rejected",
            "accepted",
            "duplicate",
            "rejected",
            "accepted"
        ],
        "{body}"
    );
    assert_eq!(body["results"][1]["code"], "wrong_type");
    assert_eq!(body["results"][1]["path"], "events[1].occurred_at");
    assert_eq!(body["results"][2]["code"], "unknown_type");
    assert_eq!(body["results"][5]["code"], "no_recipient", "{body}");
    assert!(
        body["results"][5]["message"]
            .as_str()
            .is_some_and(|m| m.contains("user_id")),
        "{body}"
    );
    assert_eq!(
        (body["accepted"].as_u64(), body["duplicates"].as_u64()),
        (Some(3), Some(1))
    );
    let mut dave = edge.connect("dave").await;
    let (head, items) = dave.hello(0).await;
    assert_eq!((head, items.len()), (3, 3));

    // A body that is not JSON is a 400 with a code; nothing stored.
    let raw = b"{not json".to_vec();
    let sig = tidings_core::signature::sign_tidings(INGEST_SECRET.as_bytes(), now_secs(), &raw);
    let (status, body) = edge.post_events_raw(raw, Some(sig)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );
}

#[tokio::test]
async fn with_an_audience_configured_only_tokens_for_it_are_let_in() {
    let edge = Edge::start_with_vars(&[("TIDINGS_TOKEN_AUDIENCE", "tidings:shop.example")]).await;
    let mint = |aud: Option<&str>| {
        tidings_core::token::mint(
            tidings_e2e::SUBSCRIBER_SECRET.as_bytes(),
            &tidings_core::token::Claims {
                sub: "fay".into(),
                exp: now_secs() + 600,
                aud: aud.map(str::to_owned),
                role: None,
            },
        )
    };
    let status = |token: String| {
        let edge = &edge;
        async move {
            edge.http
                .get(edge.url("/v1/inbox"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(mint(None)).await, 401, "no audience");
    assert_eq!(
        status(mint(Some("tidings:staging"))).await,
        401,
        "another one"
    );
    assert_eq!(status(mint(Some("tidings:shop.example"))).await, 200);
    // The dev token route mints for the configured audience.
    let dev = edge.get_json("/v1/dev/token?user=fay").await;
    assert_eq!(status(dev["token"].as_str().unwrap().to_owned()).await, 200);
}

#[tokio::test]
async fn dev_tokens_work_locally() {
    let edge = Edge::start().await;
    let resp = edge.get_json("/v1/dev/token?user=erin").await;
    let token = resp["token"].as_str().unwrap();
    let claims = tidings_core::token::verify(
        tidings_e2e::SUBSCRIBER_SECRET.as_bytes(),
        token,
        now_secs(),
        None,
    )
    .unwrap();
    assert_eq!(claims.sub, "erin");
}
