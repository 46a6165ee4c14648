//! Timestamps as stored and shown: RFC 3339 in UTC, to the second ([`Timestamp`]'s text).

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
}
