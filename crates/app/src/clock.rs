//! The one clock of the application. Production reads the system time; tests set and advance
//! a manual clock, so crossing a grace window or a step-up window needs no sleep.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch, from the system or from a test.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// A clock that only moves when told to.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `now_ms`.
    pub fn manual(now_ms: i64) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(now_ms)))
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => system_now_ms(),
            Clock::Manual(now) => now.load(Ordering::Acquire),
        }
    }

    pub fn now_secs(&self) -> u64 {
        u64::try_from(self.now_ms() / 1000).unwrap_or(0)
    }

    /// The same instant as a date-time in UTC (for certificates and calendars).
    pub fn now_utc(&self) -> time::OffsetDateTime {
        let nanos = i128::from(self.now_ms()).saturating_mul(1_000_000);
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance_ms(&self, delta_ms: i64) {
        if let Clock::Manual(now) = self {
            now.fetch_add(delta_ms, Ordering::AcqRel);
        }
    }
}

/// The wall clock. The only place outside `main` that may read it (clippy
/// `disallowed-methods` forbids `SystemTime::now` elsewhere).
#[expect(
    clippy::disallowed_methods,
    reason = "the one reader of the wall clock"
)]
fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 UTC for a millisecond timestamp.
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms).saturating_mul(1_000_000);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Milliseconds since the epoch of an RFC 3339 time, or `None` when `text` is not one.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance_ms(10_500);
        assert_eq!(clock.now_ms(), 11_500);
        assert_eq!(clock.now_secs(), 11);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
