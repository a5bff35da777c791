//! Every string the center shows, in English and Chinese.

use tidings_core::notification::{Category, Locale};

/// UI strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// Heading of the panel.
    Notifications,
    /// Nothing to show.
    Empty,
    /// Mark every item read.
    MarkAllRead,
    /// Close the panel.
    Close,
    /// Connected and live.
    Live,
    /// Connecting or waiting to reconnect.
    Reconnecting,
    /// No connection.
    Offline,
    /// Mark one item read.
    MarkRead,
    /// Mark one item unread.
    MarkUnread,
    /// Archive one item.
    Archive,
}

/// The text of `t` in `locale`.
pub fn t(locale: Locale, t: Text) -> &'static str {
    use Text::*;
    match (locale, t) {
        (Locale::En, Notifications) => "Notifications",
        (Locale::Zh, Notifications) => "通知",
        (Locale::En, Empty) => "You're all caught up.",
        (Locale::Zh, Empty) => "暂无新通知。",
        (Locale::En, MarkAllRead) => "Mark all read",
        (Locale::Zh, MarkAllRead) => "全部标为已读",
        (Locale::En, Close) => "Close",
        (Locale::Zh, Close) => "关闭",
        (Locale::En, Live) => "Live",
        (Locale::Zh, Live) => "实时",
        (Locale::En, Reconnecting) => "Reconnecting…",
        (Locale::Zh, Reconnecting) => "正在重新连接…",
        (Locale::En, Offline) => "Offline — showing saved notifications",
        (Locale::Zh, Offline) => "离线——显示已保存的通知",
        (Locale::En, MarkRead) => "Mark read",
        (Locale::Zh, MarkRead) => "标为已读",
        (Locale::En, MarkUnread) => "Mark unread",
        (Locale::Zh, MarkUnread) => "标为未读",
        (Locale::En, Archive) => "Archive",
        (Locale::Zh, Archive) => "归档",
    }
}

/// Accessible name of the bell, including the unread count.
pub fn bell_label(locale: Locale, unread: usize) -> String {
    match locale {
        Locale::En => format!("Notifications, {unread} unread"),
        Locale::Zh => format!("通知，{unread} 条未读"),
    }
}

/// The badge text: the count, capped at 99+.
pub fn badge(unread: usize) -> String {
    if unread > 99 {
        "99+".into()
    } else {
        unread.to_string()
    }
}

/// A short label for a category.
pub fn category(locale: Locale, c: Category) -> &'static str {
    match (locale, c) {
        (Locale::En, Category::Order) => "Orders",
        (Locale::Zh, Category::Order) => "订单",
        (Locale::En, Category::Payment) => "Payments",
        (Locale::Zh, Category::Payment) => "支付",
        (Locale::En, Category::Stock) => "Stock",
        (Locale::Zh, Category::Stock) => "库存",
        (Locale::En, Category::Price) => "Price drops",
        (Locale::Zh, Category::Price) => "降价",
        (Locale::En, Category::Promo) => "Promotions",
        (Locale::Zh, Category::Promo) => "促销",
        (Locale::En, Category::Account) => "Account",
        (Locale::Zh, Category::Account) => "账户",
        (Locale::En, Category::Security) => "Security",
        (Locale::Zh, Category::Security) => "安全",
        (Locale::En, Category::Ops) => "Operations",
        (Locale::Zh, Category::Ops) => "运维",
    }
}

/// An icon for a category (decorative; the category name is also given as text).
pub fn icon(c: Category) -> &'static str {
    match c {
        Category::Order => "📦",
        Category::Payment => "💳",
        Category::Stock => "🏷️",
        Category::Price => "💸",
        Category::Promo => "🎁",
        Category::Account => "👤",
        Category::Security => "🔒",
        Category::Ops => "🛠️",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badge_caps_at_99() {
        assert_eq!(badge(0), "0");
        assert_eq!(badge(99), "99");
        assert_eq!(badge(100), "99+");
    }
}
