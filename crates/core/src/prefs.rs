//! A shopper's preferences: muted categories, quiet hours, language.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::notification::{Category, Locale};
use crate::time::{Millis, DAY, MINUTE};

/// Quiet hours in the shopper's local time: non-urgent items wait until they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// Start, minutes after local midnight (e.g. 22:00 → 1320).
    pub start_minute: u16,
    /// End, minutes after local midnight (e.g. 07:00 → 420); may be before start (overnight).
    pub end_minute: u16,
}

/// Everything a shopper chose about how they are notified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Preferences {
    /// Categories the shopper does not want (account and security are ignored here).
    #[serde(default)]
    pub muted: BTreeSet<Category>,
    /// Quiet hours, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// The shopper's offset from UTC in minutes (e.g. +480 for Shanghai), for quiet hours.
    #[serde(default)]
    pub utc_offset_minutes: i16,
    /// The language the shopper picked, or `None` until they pick one: the page embedding
    /// the center decides until then (a `locale: "zh"` storefront shows Chinese).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}

/// Why a preferences update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefsError {
    /// A quiet-hours minute is outside 0..1440.
    #[error("quiet hours must be minutes after midnight between 0 and 1439")]
    BadQuietHours,
    /// The UTC offset is outside ±14 h.
    #[error("utc_offset_minutes must be between -840 and 840")]
    BadOffset,
}

impl Preferences {
    /// Checks the values a client sent.
    pub fn validate(&self) -> Result<(), PrefsError> {
        if let Some(q) = self.quiet_hours {
            if q.start_minute >= 1440 || q.end_minute >= 1440 {
                return Err(PrefsError::BadQuietHours);
            }
        }
        if !(-840..=840).contains(&self.utc_offset_minutes) {
            return Err(PrefsError::BadOffset);
        }
        Ok(())
    }

    /// `true` when the shopper muted `category` and it can be muted.
    pub fn is_muted(&self, category: Category) -> bool {
        category.can_be_muted() && self.muted.contains(&category)
    }

    /// When quiet hours are on at `now`, the instant they end; otherwise `None`.
    pub fn quiet_until(&self, now: Millis) -> Option<Millis> {
        let q = self.quiet_hours?;
        if q.start_minute == q.end_minute {
            return None;
        }
        let local = now.saturating_add(Millis::from(self.utc_offset_minutes) * MINUTE);
        let day_start = local.div_euclid(DAY) * DAY;
        let minute = (local - day_start) / MINUTE;
        let (start, end) = (Millis::from(q.start_minute), Millis::from(q.end_minute));
        let end_local = if start < end {
            if minute >= start && minute < end {
                day_start + end * MINUTE
            } else {
                return None;
            }
        } else if minute >= start {
            day_start + DAY + end * MINUTE
        } else if minute < end {
            day_start + end * MINUTE
        } else {
            return None;
        };
        Some(end_local - Millis::from(self.utc_offset_minutes) * MINUTE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;
    use crate::time::{parse_rfc3339, HOUR};

    #[test]
    fn quiet_hours_overnight_in_local_time() {
        let p = Preferences {
            quiet_hours: Some(QuietHours {
                start_minute: 22 * 60,
                end_minute: 7 * 60,
            }),
            utc_offset_minutes: 480,
            ..Default::default()
        };
        // 23:30 in Shanghai is 15:30 UTC: quiet until 07:00 Shanghai = 23:00 UTC.
        let now = parse_rfc3339("2026-11-22T15:30:00Z").unwrap();
        assert_eq!(
            p.quiet_until(now),
            Some(parse_rfc3339("2026-11-22T23:00:00Z").unwrap())
        );
        // 06:00 Shanghai (22:00 UTC the day before): one hour to go.
        let now = parse_rfc3339("2026-11-22T22:00:00Z").unwrap();
        assert_eq!(p.quiet_until(now), Some(now + HOUR));
        // Noon Shanghai: not quiet.
        assert_eq!(
            p.quiet_until(parse_rfc3339("2026-11-22T04:00:00Z").unwrap()),
            None
        );
    }

    #[test]
    fn security_cannot_be_muted() {
        let p = Preferences {
            muted: [Category::Security, Category::Promo].into(),
            ..Default::default()
        };
        assert!(p.is_muted(Category::Promo));
        assert!(!p.is_muted(Category::Security));
        assert!(Preferences {
            utc_offset_minutes: 900,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
