//! Time on PostgreSQL: stored times read back as [`Timestamp`]s, and the server's clock, which
//! is the one clock every node shares.
//!
//! Leases (claims on documents and deliveries, origin leases) are stamped and judged on the
//! server's clock, not the caller's: a lease is a promise between nodes, and nodes' clocks
//! disagree. Stamped with its own clock, a node ten minutes ahead would see every other node's
//! lease as run out and take over their work while they still do it (two fetches of one origin,
//! one message sent twice), and its own leases would look ten minutes longer to the others. On
//! the server's clock a lease means the same to all. Everything else (when a check happened,
//! when mail is due) is still the caller's `now`, as on SQLite: it is what a person reads, and a
//! test sets it by hand.

use postgres::types::{FromSql, Type};

use crate::model::Timestamp;

/// The server's clock now, as the store writes times (RFC 3339 UTC, to the second): what lease
/// ends are stamped with and compared to. A literal, for `concat!`: `clock_timestamp()`, not
/// `now()`, which is the start of the transaction and may be long past after a wait for a lock.
macro_rules! server_now {
    () => {
        "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    };
}
pub(super) use server_now;

/// The server's clock `$n` seconds from now (`$n` a bigint parameter, given as `"$3"`), as
/// [`server_now`] writes it: a lease's end.
macro_rules! server_now_plus {
    ($secs:literal) => {
        concat!(
            "to_char((clock_timestamp() + ",
            $secs,
            "::bigint * interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        )
    };
}
pub(super) use server_now_plus;

/// The server's clock now to the microsecond, for the start of an origin's last request (a delay
/// between requests is often under a second).
macro_rules! server_now_precise {
    () => {
        "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    };
}
pub(super) use server_now_precise;

/// A stored time, read from a text column: a time that is not RFC 3339 is an error naming the
/// value, not a guess (as on SQLite). A type of this module's own, so that reading one needs
/// no impl on the model's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PgTime(pub Timestamp);

impl<'a> FromSql<'a> for PgTime {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<PgTime, Box<dyn std::error::Error + Sync + Send>> {
        let s = <&str as FromSql>::from_sql(ty, raw)?;
        Ok(PgTime(Timestamp::parse(s)?))
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

/// An optional stored time.
pub(super) fn opt(t: Option<PgTime>) -> Option<Timestamp> {
    t.map(|t| t.0)
}
