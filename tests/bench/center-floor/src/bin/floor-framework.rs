//! The framework surface of a notification center with none of its features (see the lib).

use futures_util::StreamExt;
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::prelude::*;

#[derive(Clone, PartialEq)]
struct Item {
    id: u64,
    title: String,
    read: bool,
}

fn main() {
    let items = RwSignal::new(Vec::<Item>::new());
    let open = RwSignal::new(false);
    let query = RwSignal::new(String::new());
    let unread = Memo::new(move |_| items.with(|v| v.iter().filter(|i| !i.read).count()));
    let shown = Memo::new(move |_| {
        let q = query.get();
        items.with(|v| {
            v.iter()
                .filter(|i| i.title.contains(&q))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    wasm_bindgen_futures::spawn_local(async move {
        let Some(db) = tidings_center_floor::open_db().await else {
            return;
        };
        let Ok(mut ws) = WebSocket::open("ws://127.0.0.1:8787/v1/connect") else {
            return;
        };
        while let Some(Ok(Message::Text(title))) = ws.next().await {
            let id = items.with_untracked(|v| v.len() as u64);
            tidings_center_floor::put(&db, id as f64, title.clone()).await;
            items.update(|v| {
                v.push(Item {
                    id,
                    title,
                    read: false,
                })
            });
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
                    <input type="search" prop:value=move || query.get()
                        on:input=move |e| query.set(event_target_value(&e)) />
                    <ul>
                        <For each=move || shown.get() key=|i| (i.id, i.read) let:item>
                            <li class:unread=!item.read>
                                <span>{item.title.clone()}</span>
                                <button on:click=move |_| items.update(|v| {
                                    if let Some(x) = v.iter_mut().find(|x| x.id == item.id) {
                                        x.read = true;
                                    }
                                })>"Mark read"</button>
                            </li>
                        </For>
                    </ul>
                </div>
            </Show>
        }
    });
}
