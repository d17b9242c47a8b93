//! Unit tests of `limiter`: bursts, waits and shares of the local GCRA.

use super::{LimitKey, LocalLimiter, RateLimitSettings, RouteClass, secs_up};

#[test]
fn a_burst_is_admitted_then_refused_with_a_wait() {
    let limiter = LocalLimiter::new(RateLimitSettings::default());
    // Money: 60 per minute, burst 20, per user.
    for expected_remaining in (0..20).rev() {
        let decision = limiter.decide(RouteClass::Money, "user:a", 1);
        assert!(decision.allowed);
        assert_eq!(decision.limit, 20);
        assert_eq!(decision.remaining, expected_remaining);
    }
    let refused = limiter.decide(RouteClass::Money, "user:a", 1);
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    assert_eq!(
        refused.retry_after_secs, 1,
        "one request a second at 60/min"
    );
    // Another key and another class keep their own budgets.
    assert!(limiter.decide(RouteClass::Money, "user:b", 1).allowed);
    assert!(limiter.decide(RouteClass::Read, "user:a", 1).allowed);
}

#[test]
fn a_share_divides_the_budget_among_instances() {
    let limiter = LocalLimiter::new(RateLimitSettings::default());
    let first = limiter.decide(RouteClass::Money, "user:a", 3);
    assert_eq!(first.limit, 7, "ceil(20 / 3)");
    let admitted = (0..20)
        .filter(|_| limiter.decide(RouteClass::Money, "user:c", 3).allowed)
        .count();
    assert_eq!(admitted, 7);
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let settings = RateLimitSettings::default();
    let auth = settings.get(RouteClass::Auth);
    assert_eq!(
        (auth.per_minute, auth.burst, auth.key),
        (20, 10, LimitKey::Ip)
    );
    let internal = settings.get(RouteClass::Internal);
    assert_eq!(
        (internal.per_minute, internal.burst, internal.key),
        (60_000, 5_000, LimitKey::Service)
    );
    assert_eq!(internal.interval_us(), 1_000);
}

#[test]
fn seconds_round_up() {
    assert_eq!(secs_up(std::time::Duration::from_millis(1)), 1);
    assert_eq!(secs_up(std::time::Duration::from_secs(2)), 2);
    assert_eq!(secs_up(std::time::Duration::ZERO), 0);
}
