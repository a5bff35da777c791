//! Starting a center: the demo storefront's boot, and `mount(element, options)`
//! for any storefront page.
//!
//! Boot order matters for the shopper: history from IndexedDB is rendered
//! first, then the socket connects and resumes after the last stored seq.

use std::rc::Rc;

use leptos::prelude::*;
use tidings_core::notification::Locale;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::center::Center;
use crate::components::{NotificationCenter, WatchButtons};
use crate::store::Store;
use crate::tabs::Role;

/// How to reach the edge and as whom.
#[derive(Debug, Clone)]
pub struct Options {
    /// Base URL of the edge (`""` for the same origin, e.g. behind Trunk's proxy).
    pub edge_url: String,
    /// Subscriber JWT minted by the store backend.
    pub token: String,
    /// UI language.
    pub locale: Locale,
    /// `getToken()`: called before each reconnect for a fresh token (a string, or a promise
    /// of one), so a center open for longer than a token lives keeps working.
    pub get_token: Option<js_sys::Function>,
}

impl Options {
    /// Asks the page for a fresh token, when it gave `getToken`; keeps the old one if the
    /// call fails or gives no string.
    pub async fn renew_token(&mut self) {
        let Some(get) = &self.get_token else { return };
        let answer = match get.call0(&JsValue::NULL) {
            Ok(v) if v.is_instance_of::<js_sys::Promise>() => {
                wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(v)).await
            }
            other => other,
        };
        match answer
            .ok()
            .and_then(|v| v.as_string())
            .filter(|t| !t.is_empty())
        {
            Some(token) => self.token = token,
            None => leptos::logging::warn!("tidings: getToken() gave no token; trying the old one"),
        }
    }
}

/// The WebSocket URL for `options`.
pub fn socket_url(options: &Options) -> String {
    let base = if options.edge_url.is_empty() {
        let loc = web_sys::window().map(|w| w.location());
        let proto = loc
            .as_ref()
            .and_then(|l| l.protocol().ok())
            .unwrap_or_else(|| "http:".into());
        let host = loc.as_ref().and_then(|l| l.host().ok()).unwrap_or_default();
        format!("{}//{host}", if proto == "https:" { "wss:" } else { "ws:" })
    } else {
        options
            .edge_url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1)
    };
    format!(
        "{}/v1/connect?token={}",
        base.trim_end_matches('/'),
        js_sys::encode_uri_component(&options.token)
    )
}

/// Mounts a center into `parent` and connects it. Returns the center's state.
pub fn start(parent: web_sys::HtmlElement, options: Options) -> Center {
    let center = Center::new(options.locale);
    let handle = leptos::mount::mount_to(
        parent,
        move || view! { <NotificationCenter center=center /> },
    );
    handle.forget();
    let user =
        tidings_core::token::peek_subject(&options.token).unwrap_or_else(|| "anonymous".into());
    center.join_tabs(&user);
    // A follower until the lock says otherwise: frames another tab's socket relays while the
    // history loads are not missed.
    center.set_role(Role::Follower);
    mount_watch_buttons(center);
    leptos::task::spawn_local(async move {
        let store = match Store::open(&format!("tidings-{user}")).await {
            Ok(s) => Some(Rc::new(s)),
            Err(e) => {
                leptos::logging::warn!("tidings: history unavailable ({e}); continuing without it");
                None
            }
        };
        if let Some(store) = &store {
            center.set_store(store.clone());
            if let Ok(items) = store.all().await {
                center.upsert(items);
                center.drop_expired(crate::center::now_ms());
            }
            if let Ok(Some(prefs)) = store.prefs().await {
                if let Some(locale) = prefs.locale {
                    center.locale.set(locale);
                }
                center.prefs.set(prefs);
            }
        }
        // One socket per browser: the tab holding the Web Lock connects; the others follow it.
        crate::tabs::elect(&crate::tabs::lock_name(&user), move |role| {
            center.set_role(role);
            leptos::task::spawn_local(async move {
                if role == Role::Leader {
                    center.store_heard().await;
                }
                crate::connection::run(center, options, store).await
            });
        });
    });
    center
}

/// Mounts watch buttons into every `.product[data-sku]` card of the page (`data-product-id`
/// names the product for price drops; without it the SKU does).
pub fn mount_watch_buttons(center: Center) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(cards) = doc.query_selector_all(".product[data-sku]") else {
        return;
    };
    for i in 0..cards.length() {
        let Some(card) = cards
            .item(i)
            .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        else {
            continue;
        };
        let Some(sku) = card
            .get_attribute("data-sku")
            .filter(|s| !s.is_empty() && s.len() <= 190)
        else {
            continue;
        };
        let product = card
            .get_attribute("data-product-id")
            .filter(|p| !p.is_empty() && p.len() <= 190)
            .unwrap_or_else(|| sku.clone());
        let handle = leptos::mount::mount_to(
            card,
            move || view! { <WatchButtons center=center sku=sku product=product /> },
        );
        handle.forget();
    }
}

/// JavaScript entry point: `mount(element, {edgeUrl, token, locale, getToken})`.
#[wasm_bindgen]
pub fn mount(element: web_sys::HtmlElement, options: JsValue) -> Result<(), JsValue> {
    let get = |k: &str| {
        js_sys::Reflect::get(&options, &JsValue::from_str(k))
            .ok()
            .and_then(|v| v.as_string())
    };
    let token = get("token")
        .ok_or_else(|| JsValue::from_str("mount: options.token (a subscriber JWT) is required"))?;
    let locale = if get("locale").as_deref() == Some("zh") {
        Locale::Zh
    } else {
        Locale::En
    };
    start(
        element,
        Options {
            edge_url: get("edgeUrl").unwrap_or_default(),
            token,
            locale,
            get_token: js_sys::Reflect::get(&options, &JsValue::from_str("getToken"))
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok()),
        },
    );
    Ok(())
}

fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// The demo storefront: token from `?token=`, or a dev token for `?user=` (default `alice`);
/// on `/ops`, the operators' page with a dev ops token (default user `ops`).
pub fn boot_demo() {
    // Leptos' executor starts with the first mount, so the boot itself runs on wasm-bindgen's.
    // Pages that embed the center with `mount(…)` have no #tidings-root: nothing to boot.
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("tidings-root"))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    // `/ops` is the operators' page: the live statistics replace the shop's content, and the
    // operator's own center (where alerts arrive) stays in the header.
    let ops_page = web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .is_some_and(|p| p.trim_end_matches('/').ends_with("/ops"));
    wasm_bindgen_futures::spawn_local(async move {
        let token = match query_param("token") {
            Some(t) => t,
            None => {
                let default_user = if ops_page { "ops" } else { "alice" };
                let user = query_param("user").unwrap_or_else(|| default_user.into());
                match dev_token(&user, ops_page).await {
                    Ok(t) => t,
                    Err(e) => {
                        leptos::logging::error!("tidings: no ?token= and no dev token: {e}");
                        return;
                    }
                }
            }
        };
        let locale = if query_param("lang").as_deref() == Some("zh") {
            Locale::Zh
        } else {
            Locale::En
        };
        if ops_page {
            let main = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.query_selector("main").ok().flatten())
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
            if let Some(main) = main {
                main.set_text_content(None);
                crate::ops::start(main, "", &token, locale);
            }
        }
        start(
            root,
            Options {
                edge_url: String::new(),
                token,
                locale,
                get_token: None,
            },
        );
    });
}

async fn dev_token(user: &str, ops: bool) -> Result<String, String> {
    let role = if ops { "&role=ops" } else { "" };
    let url = format!(
        "/v1/dev/token?user={}{role}",
        js_sys::encode_uri_component(user)
    );
    let resp = gloo_net::http::Request::get(&url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.ok() {
        return Err(format!(
            "GET {url} answered {} (dev tokens need TIDINGS_DEV_TOKENS=1)",
            resp.status()
        ));
    }
    let body = resp.text().await.map_err(|e| e.to_string())?;
    tidings_core::wire::parse(&body)
        .ok()
        .and_then(|answer| Some(answer.get("token")?.as_str()?.into_owned()))
        .ok_or_else(|| "no token in the answer".into())
}
