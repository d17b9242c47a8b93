//! Every bound this crate enforces, in one place, with its unit last.

/// Largest single amount (docs/api.md: 1 ≤ amount ≤ 10^15 minor units).
pub const AMOUNT_MINOR_MAX: i64 = 1_000_000_000_000_000;
