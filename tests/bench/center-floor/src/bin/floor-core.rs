//! The framework shell of `floor-framework` fed by `tidings_core` as the center is (see the lib).

use futures_util::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::prelude::*;
use tidings_core::inbox::{Inbox, Query, StateFilter};
use tidings_core::notification::{Locale, ReadState};
use tidings_core::protocol::{ClientFrame, ServerFrame};
use tidings_core::time::Millis;
use tidings_core::wire::ToJson;

/// The page's clock, as the center reads it.
fn now() -> Millis {
    js_sys::Date::now() as Millis
}

fn main() {
    let inbox = RwSignal::new(Inbox::new());
    let open = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let unread_only = RwSignal::new(false);
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<String>();
    let tx = StoredValue::new(tx);
    let unread = Memo::new(move |_| inbox.with(|i| i.unread()));
    let shown = Memo::new(move |_| {
        let q = Query {
            text: Some(text.get()).filter(|t| !t.is_empty()),
            state: if unread_only.get() {
                StateFilter::Unread
            } else {
                StateFilter::default()
            },
            ..Query::default()
        };
        inbox.with(|i| {
            i.query(&q, now())
                .items
                .into_iter()
                .map(|n| {
                    (
                        n.id.clone(),
                        n.seq,
                        n.state,
                        n.title.get(Locale::En).to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
    });
    wasm_bindgen_futures::spawn_local(async move {
        let Some(db) = tidings_center_floor::open_db().await else {
            return;
        };
        let Ok(ws) = WebSocket::open("ws://127.0.0.1:8787/v1/connect") else {
            return;
        };
        let (mut sink, mut stream) = ws.split();
        wasm_bindgen_futures::spawn_local(async move {
            while let Some(frame) = rx.next().await {
                if sink.send(Message::Text(frame)).await.is_err() {
                    return;
                }
            }
        });
        while let Some(Ok(Message::Text(frame))) = stream.next().await {
            match ServerFrame::decode(&frame) {
                Ok(ServerFrame::Notify { notification }) => {
                    tidings_center_floor::put(&db, notification.seq as f64, notification.to_json())
                        .await;
                    inbox.update(|i| {
                        i.upsert(notification);
                    });
                }
                Ok(ServerFrame::Changed { ids, state, .. }) => {
                    inbox.update(|i| {
                        i.apply_change(ids, state);
                    });
                }
                _ => {}
            }
        }
    });
    leptos::mount::mount_to_body(move || {
        view! {
            <button aria-label=move || format!("Notifications, {} unread", unread.get())
                on:click=move |_| open.update(|o| *o = !*o)>
                "🔔" <span class="badge">{move || unread.get()}</span>
            </button>
            <Show when=move || open.get()>
                <div role="dialog" aria-label="Notifications">
                    <input type="search" prop:value=move || text.get()
                        on:input=move |e| text.set(event_target_value(&e)) />
                    <input type="checkbox" prop:checked=move || unread_only.get()
                        on:change=move |_| unread_only.update(|u| *u = !*u) />
                    <ul>
                        <For each=move || shown.get() key=|n| (n.0.clone(), n.1, n.2) let:n>
                            <li class:unread=n.2 == ReadState::Unread>
                                <span>{n.3.clone()}</span>
                                <button on:click=move |_| {
                                    let frame = ClientFrame::Mark {
                                        ids: vec![n.0.clone()],
                                        state: ReadState::Read,
                                    };
                                    tx.with_value(|tx| {
                                        let _ = tx.unbounded_send(frame.encode());
                                    });
                                }>"Mark read"</button>
                            </li>
                        </For>
                    </ul>
                </div>
            </Show>
        }
    });
}
