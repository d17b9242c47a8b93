//! Every bound of the HTTP edge, named, in one place. Relations are asserted at compile time.

use std::time::Duration;

/// Largest request body accepted; larger bodies get 413 before they are read.
pub const REQUEST_BODY_BYTES_MAX: usize = 1024 * 1024;
/// Largest body of a service batch on the internal listener: `app::limits::BATCH_POSTINGS_MAX`
/// postings of up to ~2 KiB each (the longest ids, key, memo and reference, escaped).
pub const BATCH_REQUEST_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// The route that takes batch-sized bodies.
pub const BATCH_PATH: &str = "/internal/v1/transfers/batch";
/// Deepest JSON nesting accepted (objects and arrays), checked without recursion.
pub const JSON_DEPTH_MAX: usize = 32;
/// Longest `X-Request-Id` echoed back; longer ones are replaced by a generated id.
pub const REQUEST_ID_LEN_MAX: usize = 128;
/// Time a handler may take before the client gets 503 `request_timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Addresses read from one `X-Forwarded-For`/`Forwarded` chain; longer chains are malformed.
pub const FORWARDED_HOPS_MAX: usize = 32;
/// Notifications per outbox page: the default, and the most one page may ask for.
pub const OUTBOX_PAGE_LEN_DEFAULT: i64 = 100;
pub const OUTBOX_PAGE_LEN_MAX: i64 = store::OUTBOX_PAGE_LEN_MAX;
/// Ledger events per page of `GET /internal/v1/events` when `limit` is not given.
pub const EVENTS_PAGE_LEN_DEFAULT: i64 = 100;
/// How long browsers may cache a CORS preflight answer.
pub const CORS_PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

const _: () = assert!(
    JSON_DEPTH_MAX < 128,
    "serde_json's own recursion limit is 128"
);
const _: () = assert!(REQUEST_BODY_BYTES_MAX >= 64 * 1024);

/// How long `/readyz` waits for the database before answering 503.
pub const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// How long one readiness probe's answer serves the probes after it.
pub const READINESS_CACHE: std::time::Duration = std::time::Duration::from_millis(500);
/// Characters of a query parameter's name a 400's `detail` repeats (longer names are not
/// repeated).
pub const QUERY_NAME_CHARS_MAX: usize = 32;
