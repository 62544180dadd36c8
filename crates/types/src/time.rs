//! Clock helpers: one convention for timestamps (RFC 3339 UTC with microseconds).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Now as RFC 3339 UTC, for example `2026-11-22T03:19:14.123456Z`.
pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    now.format(&Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Now as microseconds since the Unix epoch.
pub fn now_unix_micros() -> i64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1000).unwrap_or(i64::MAX)
}
