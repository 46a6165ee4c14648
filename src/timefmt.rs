//! Timestamps as stored and shown: RFC 3339 in UTC, to the second ([`Timestamp`]'s text), and
//! the one way a stored time or date is written as a day (notes, mail, web pages).

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::model::Timestamp;

/// The current time as stored in the database.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

pub fn format(t: OffsetDateTime) -> String {
    Timestamp::from_datetime(t).to_string()
}

/// `now + d`, as stored.
pub fn after(d: Duration) -> String {
    format(add(OffsetDateTime::now_utc(), d))
}

/// `t + d`, or the last moment `time` can hold (9999-12-31T23:59:59Z) past it. `+` panics on
/// overflow, and an interval is not the place to crash a pass: the config bounds its durations,
/// and this keeps anything else (a server's Retry-After, a future caller) from doing so.
pub fn add(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    Timestamp::from_datetime(t).plus(d).datetime()
}

pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// How [`day`] writes a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayStyle {
    /// `2026-11-23`: in the notes stored with events and on the web pages.
    Iso,
    /// `23 November 2026`: in mail, which people read rather than sort.
    Long,
}

/// The day of `s`, or `None` so that each caller keeps its own fallback.
///
/// With no zone, the day `s` begins with, as written (`YYYY-MM-DD`): stored times are UTC and
/// stored publication dates are days already, so notes and mail name the day the database
/// holds. With a zone (the web pages', the reader's), `s` must be an RFC 3339 time, and its day
/// is the one in that zone, where a late evening in UTC can be the next day; a bare date or a
/// month (`2003-11`) is `None` there, and shown by the caller as it is.
pub fn day(s: &str, tz: Option<chrono_tz::Tz>, style: DayStyle) -> Option<String> {
    let date = match tz {
        None => {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            let d = time::Date::parse(s.get(..10)?, fmt).ok()?;
            chrono::NaiveDate::from_ymd_opt(d.year(), u8::from(d.month()).into(), d.day().into())?
        }
        Some(tz) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()?
            .with_timezone(&tz)
            .date_naive(),
    };
    Some(match style {
        DayStyle::Iso => date.format("%Y-%m-%d").to_string(),
        DayStyle::Long => {
            use chrono::Datelike;
            format!("{} {} {}", date.day(), date.format("%B"), date.year())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_a_huge_duration_saturates() {
        assert_eq!(after(Duration::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(
            after(Duration::from_secs(10_000 * 31_557_600)),
            "9999-12-31T23:59:59Z"
        );
        let t = parse("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(format(add(t, Duration::from_secs(3600))), "2026-01-01T01:00:00Z");
    }

    #[test]
    fn a_day_from_a_stored_time_or_date() {
        use chrono_tz::{Asia::Shanghai, UTC};
        let late = "2026-11-23T18:04:05Z";
        assert_eq!(day(late, None, DayStyle::Iso).as_deref(), Some("2026-11-23"));
        assert_eq!(
            day(late, None, DayStyle::Long).as_deref(),
            Some("23 November 2026")
        );
        assert_eq!(day(late, Some(UTC), DayStyle::Iso).as_deref(), Some("2026-11-23"));
        // 02:04 the next morning in Beijing.
        assert_eq!(
            day(late, Some(Shanghai), DayStyle::Iso).as_deref(),
            Some("2026-11-24")
        );
        assert_eq!(
            day("2023-05-25", None, DayStyle::Long).as_deref(),
            Some("25 May 2023")
        );
        assert_eq!(
            day("2023-05-25", None, DayStyle::Iso).as_deref(),
            Some("2023-05-25")
        );
        // In a zone, only a time is read: a date is no moment to convert.
        assert_eq!(day("2023-05-25", Some(Shanghai), DayStyle::Iso), None);
        for not_a_day in ["2003-11", "", "soon", "2023-13-45", "yesterday at noon"] {
            assert_eq!(day(not_a_day, None, DayStyle::Iso), None, "{not_a_day}");
            assert_eq!(day(not_a_day, Some(UTC), DayStyle::Long), None, "{not_a_day}");
        }
    }
}
