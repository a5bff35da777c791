//! Watch buttons for a storefront product card: back in stock, price drops.

use leptos::prelude::*;

use crate::center::Center;
use crate::i18n::{self, Text};

/// Two toggle buttons for a product card: topics `stock:<sku>` (restocks are per SKU) and
/// `price:<product id>` (price drops are per product, as the default rules route them).
#[component]
pub fn WatchButtons(
    /// The center's state.
    center: Center,
    /// The product's SKU (`data-sku`).
    sku: String,
    /// The product's id (`data-product-id`; the SKU when the card has none).
    product: String,
) -> impl IntoView {
    let locale = center.locale;
    let button = move |topic: String, on: Text, off: Text, class: &'static str| {
        let t = topic.clone();
        let watching = Memo::new(move |_| center.topics.with(|ts| ts.contains(&t)));
        view! {
            <button type="button" class=class data-topic=topic.clone()
                aria-pressed=move || watching.get().to_string()
                on:click=move |_| center.set_watch(topic.clone(), !watching.get_untracked())
            >
                {move || i18n::t(locale.get(), if watching.get() { off } else { on })}
            </button>
        }
    };
    view! {
        <div class="tidings-watch">
            {button(format!("stock:{sku}"), Text::WatchStock, Text::UnwatchStock, "tidings-watch-stock")}
            {button(format!("price:{product}"), Text::WatchPrice, Text::UnwatchPrice, "tidings-watch-price")}
        </div>
    }
}
