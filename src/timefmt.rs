//! Timestamps as stored and shown: RFC 3339 in UTC, to the second, so they sort as text.

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The current time as stored in the database.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

pub fn format(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// `now + d`, as stored.
pub fn after(d: Duration) -> String {
    format(add(OffsetDateTime::now_utc(), d))
}

/// `t + d`, or the last moment `time` can hold (9999-12-31T23:59:59Z) past it. `+` panics on
/// overflow, and an interval is not the place to crash a pass: the config bounds its durations,
/// and this keeps anything else (a server's Retry-After, a future caller) from doing so.
pub fn add(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
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
