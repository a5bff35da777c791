//! Every string the center shows, in English and Chinese.

use tidings_core::notification::{Category, Locale, Priority};
use tidings_core::time::{Millis, DAY, HOUR, MINUTE};

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
    /// Take an item out of the archive.
    Restore,
    /// The "all categories" tab.
    All,
    /// The account tab (account and security).
    AccountTab,
    /// Label of the category tab list.
    Categories,
    /// The unread-only toggle.
    UnreadOnly,
    /// The archived-view toggle.
    ShowArchived,
    /// Label of the search box.
    Search,
    /// Placeholder of the search box.
    SearchPlaceholder,
    /// Label of the sort select.
    SortBy,
    /// Sort: newest first.
    SortNewest,
    /// Sort: priority first.
    SortPriority,
    /// Sort: expiring soon first.
    SortExpiring,
    /// Label of the priority filter.
    PriorityFilter,
    /// Priority filter: any.
    AnyPriority,
    /// Load the next page.
    LoadMore,
    /// Open the preferences sheet.
    Preferences,
    /// Label of the muted categories group.
    MuteCategories,
    /// Always on (account, security).
    AlwaysOn,
    /// Quiet hours toggle.
    QuietHours,
    /// Quiet hours start.
    QuietStart,
    /// Quiet hours end.
    QuietEnd,
    /// Language select.
    Language,
    /// Save preferences.
    Save,
    /// Back from preferences to the list.
    Back,
    /// Dismiss a toast.
    Dismiss,
    /// Watch for stock.
    WatchStock,
    /// Stop watching stock.
    UnwatchStock,
    /// Watch for price drops.
    WatchPrice,
    /// Stop watching price drops.
    UnwatchPrice,
    /// Urgent label on a toast.
    Urgent,
    /// Preferences saved.
    Saved,
    /// Sent offline; applied when reconnected.
    NewNotification,
}

fn pair(t: Text) -> (&'static str, &'static str) {
    use Text::*;
    match t {
        Notifications => ("Notifications", "通知"),
        Empty => ("You're all caught up.", "暂无新通知。"),
        MarkAllRead => ("Mark all read", "全部标为已读"),
        Close => ("Close", "关闭"),
        Live => ("Live", "实时"),
        Reconnecting => ("Reconnecting…", "正在重新连接…"),
        Offline => (
            "Offline — showing saved notifications",
            "离线——显示已保存的通知",
        ),
        MarkRead => ("Mark read", "标为已读"),
        MarkUnread => ("Mark unread", "标为未读"),
        Archive => ("Archive", "归档"),
        Restore => ("Restore", "恢复"),
        All => ("All", "全部"),
        AccountTab => ("Account", "账户"),
        Categories => ("Categories", "分类"),
        UnreadOnly => ("Unread only", "仅未读"),
        ShowArchived => ("Archived", "已归档"),
        Search => ("Search notifications", "搜索通知"),
        SearchPlaceholder => ("Search…", "搜索…"),
        SortBy => ("Sort", "排序"),
        SortNewest => ("Newest", "最新"),
        SortPriority => ("Priority", "优先级"),
        SortExpiring => ("Expiring soon", "即将过期"),
        PriorityFilter => ("Priority", "优先级"),
        AnyPriority => ("Any priority", "任意优先级"),
        LoadMore => ("Load more", "加载更多"),
        Preferences => ("Preferences", "偏好设置"),
        MuteCategories => ("Notify me about", "通知我以下内容"),
        AlwaysOn => ("always on", "始终开启"),
        QuietHours => ("Quiet hours", "免打扰时段"),
        QuietStart => ("From", "开始"),
        QuietEnd => ("Until", "结束"),
        Language => ("Language", "语言"),
        Save => ("Save", "保存"),
        Back => ("Back", "返回"),
        Dismiss => ("Dismiss", "关闭提示"),
        WatchStock => ("Notify me when back in stock", "到货时通知我"),
        UnwatchStock => ("Stop back-in-stock alerts", "取消到货通知"),
        WatchPrice => ("Tell me about price drops", "降价时通知我"),
        UnwatchPrice => ("Stop price-drop alerts", "取消降价通知"),
        Urgent => ("Urgent", "紧急"),
        Saved => ("Preferences saved", "偏好设置已保存"),
        NewNotification => ("New notification", "新通知"),
    }
}

/// The text of `t` in `locale`.
pub fn t(locale: Locale, t: Text) -> &'static str {
    let (en, zh) = pair(t);
    match locale {
        Locale::En => en,
        Locale::Zh => zh,
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

/// A tab's accessible suffix for its unread count ("3 unread").
pub fn unread_count(locale: Locale, n: usize) -> String {
    match locale {
        Locale::En => format!("{n} unread"),
        Locale::Zh => format!("{n} 条未读"),
    }
}

/// The quiet notice after a resume: "3 missed notifications loaded".
pub fn missed_loaded(locale: Locale, n: u64) -> String {
    match (locale, n) {
        (Locale::En, 1) => "1 missed notification loaded".into(),
        (Locale::En, n) => format!("{n} missed notifications loaded"),
        (Locale::Zh, n) => format!("已载入 {n} 条错过的通知"),
    }
}

/// "2 min ago" / "2 分钟前" for an item created at `then`, seen at `now`.
pub fn relative_time(locale: Locale, now: Millis, then: Millis) -> String {
    let d = now.saturating_sub(then).max(0);
    let (n, en, zh) = if d < MINUTE {
        return match locale {
            Locale::En => "just now".into(),
            Locale::Zh => "刚刚".into(),
        };
    } else if d < HOUR {
        (d / MINUTE, "min", "分钟")
    } else if d < DAY {
        (d / HOUR, "h", "小时")
    } else {
        (d / DAY, "d", "天")
    };
    match locale {
        Locale::En => format!("{n} {en} ago"),
        Locale::Zh => format!("{n} {zh}前"),
    }
}

/// The name of a priority.
pub fn priority(locale: Locale, p: Priority) -> &'static str {
    match (locale, p) {
        (Locale::En, Priority::Low) => "Low and up",
        (Locale::Zh, Priority::Low) => "低及以上",
        (Locale::En, Priority::Normal) => "Normal and up",
        (Locale::Zh, Priority::Normal) => "普通及以上",
        (Locale::En, Priority::High) => "High and up",
        (Locale::Zh, Priority::High) => "高及以上",
        (Locale::En, Priority::Urgent) => "Urgent only",
        (Locale::Zh, Priority::Urgent) => "仅紧急",
    }
}

/// The name of a language, in that language (for the switcher).
pub fn language_name(l: Locale) -> &'static str {
    match l {
        Locale::En => "English",
        Locale::Zh => "中文",
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

    #[test]
    fn missed_notice_counts_in_both_languages() {
        assert_eq!(missed_loaded(Locale::En, 1), "1 missed notification loaded");
        assert_eq!(
            missed_loaded(Locale::En, 12),
            "12 missed notifications loaded"
        );
        assert_eq!(missed_loaded(Locale::Zh, 3), "已载入 3 条错过的通知");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative_time(Locale::En, 2 * MINUTE + 5, 0), "2 min ago");
        assert_eq!(relative_time(Locale::Zh, 2 * MINUTE, 0), "2 分钟前");
        assert_eq!(relative_time(Locale::En, 3 * DAY, 0), "3 d ago");
    }
}
