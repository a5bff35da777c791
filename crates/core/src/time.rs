//! Time as plain numbers: unix milliseconds in, unix milliseconds out.
//!
//! Nothing here reads a clock. Parsing of RFC 3339 timestamps and of
//! human durations (`"30d"`, `"6h"`, `"90s"`) lives here so rules and events
//! agree on one notation.

use std::fmt;

/// Milliseconds since the unix epoch (UTC).
pub type Millis = i64;

/// One second in milliseconds.
pub const SECOND: Millis = 1_000;
/// One minute in milliseconds.
pub const MINUTE: Millis = 60 * SECOND;
/// One hour in milliseconds.
pub const HOUR: Millis = 60 * MINUTE;
/// One day in milliseconds.
pub const DAY: Millis = 24 * HOUR;

/// The earliest time an event may carry: 0000-01-01T00:00:00Z, the first an RFC 3339
/// timestamp names.
pub const EARLIEST: Millis = -62_167_219_200_000;
/// The latest time an event may carry: 9999-12-31T23:59:59.999Z, the last an RFC 3339
/// timestamp names. Far inside what a JavaScript `Date` (±8.64e15 ms) and an `f64` hold
/// exactly, so a time that passes here can be an alarm, an IndexedDB key and a JSON number.
pub const LATEST: Millis = 253_402_300_799_999;

/// Unix seconds as milliseconds, when they fall within [`EARLIEST`]..=[`LATEST`].
pub fn from_unix_seconds(seconds: i64) -> Option<Millis> {
    seconds
        .checked_mul(SECOND)
        .filter(|ms| (EARLIEST..=LATEST).contains(ms))
}

/// Why a timestamp or duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text is not an RFC 3339 timestamp such as `2026-11-22T10:00:00Z`.
    #[error("`{0}` is not an RFC 3339 timestamp like 2026-11-22T10:00:00Z")]
    BadTimestamp(String),
    /// The text is not a duration such as `30d`, `6h`, `15m`, `90s` or `500ms`.
    #[error("`{0}` is not a duration like 30d, 6h, 15m, 90s or 500ms")]
    BadDuration(String),
}

/// Days since 1970-01-01 of a proleptic Gregorian civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date `(year, month, day)` of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i64, |acc, b| {
        acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

/// Parses an RFC 3339 timestamp (`2026-11-22T10:00:00Z`, `2026-11-22T18:00:00.250+08:00`).
pub fn parse_rfc3339(text: &str) -> Result<Millis, TimeError> {
    let bad = || TimeError::BadTimestamp(text.chars().take(64).collect());
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let year = digits(&b[0..4]).ok_or_else(bad)?;
    let month = digits(&b[5..7]).ok_or_else(bad)?;
    let day = digits(&b[8..10]).ok_or_else(bad)?;
    let hour = digits(&b[11..13]).ok_or_else(bad)?;
    let minute = digits(&b[14..16]).ok_or_else(bad)?;
    let second = digits(&b[17..19]).ok_or_else(bad)?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if rest.first() == Some(&b'.') {
        let frac_len = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if frac_len == 0 {
            return Err(bad());
        }
        let frac = &rest[1..1 + frac_len];
        for (i, digit) in frac.iter().take(3).enumerate() {
            millis += i64::from(digit - b'0') * [100, 10, 1][i];
        }
        rest = &rest[1 + frac_len..];
    }
    let offset_minutes = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2]).ok_or_else(bad)?;
            let m = digits(&[*m1, *m2]).ok_or_else(bad)?;
            if h > 23 || m > 59 {
                return Err(bad());
            }
            let total = h * 60 + m;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Ok(secs * 1_000 + millis)
}

/// Formats unix milliseconds as RFC 3339 in UTC with millisecond precision.
pub fn format_rfc3339(at: Millis) -> String {
    Rfc3339(at).to_string()
}

/// Display adapter printing unix milliseconds as RFC 3339 (UTC).
#[derive(Debug, Clone, Copy)]
pub struct Rfc3339(pub Millis);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000);
        let ms = self.0.rem_euclid(1_000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            sod / 3_600,
            sod % 3_600 / 60,
            sod % 60
        )
    }
}

/// Parses a duration such as `30d`, `6h`, `15m`, `90s`, `500ms` or `1h30m` into milliseconds.
pub fn parse_duration(text: &str) -> Result<Millis, TimeError> {
    let bad = || TimeError::BadDuration(text.chars().take(64).collect());
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: Millis = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let n_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n = digits(&rest.as_bytes()[..n_len]).ok_or_else(bad)?;
        rest = &rest[n_len..];
        let u_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..u_len] {
            "ms" => 1,
            "s" => SECOND,
            "m" => MINUTE,
            "h" => HOUR,
            "d" => DAY,
            "w" => 7 * DAY,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        rest = rest[u_len..].trim_start();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test;

    #[test]
    fn parses_and_formats_rfc3339_round_trip() {
        let t = parse_rfc3339("2026-11-22T10:00:00Z").unwrap();
        assert_eq!(t, 1_795_341_600_000);
        assert_eq!(format_rfc3339(t), "2026-11-22T10:00:00.000Z");
        assert_eq!(
            parse_rfc3339("2026-11-22T18:00:00.250+08:00").unwrap(),
            t + 250
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn rejects_bad_timestamps() {
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-11-22",
            "2026-11-22T10:00:00",
            "yesterday",
            "2026-11-22T10:00:00+8",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("30d").unwrap(), 30 * DAY);
        assert_eq!(parse_duration("1h30m").unwrap(), HOUR + 30 * MINUTE);
        assert_eq!(parse_duration("500ms").unwrap(), 500);
        for bad in ["", "d", "5 parsecs", "99999999999999999999d", "-5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
