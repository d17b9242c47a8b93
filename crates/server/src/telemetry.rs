//! Structured JSON logs on stderr (`STRONGROOM_LOG` sets the filter) and the Prometheus
//! recorder behind `/metrics`.

use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

pub const LOG_FILTER_ENV: &str = "STRONGROOM_LOG";
const DEFAULT_LOG_FILTER: &str = "info";
/// How often histogram buckets are drained into the exposition.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

pub fn init_logging() {
    let filter = EnvFilter::try_from_env(LOG_FILTER_ENV)
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let _already_set = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Latency buckets (seconds) of every `*_seconds` histogram: real histograms, so quantiles
/// aggregate across instances.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets of the postings per ledger batch (the batch holds at most 512).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// HELP text of every metric family the server exposes.
const FAMILIES: &[(&str, &str)] = &[
    (
        "strongroom_build_info",
        "Always 1; the version label names the running build.",
    ),
    (
        "strongroom_http_requests_total",
        "HTTP requests answered, by listener, route template and status.",
    ),
    (
        "strongroom_http_request_duration_seconds",
        "Time to answer an HTTP request, by listener, route template and status.",
    ),
    (
        "strongroom_ledger_batch_seconds",
        "Time the ledger writer took to commit one batch.",
    ),
    (
        "strongroom_ledger_batch_postings",
        "Postings per committed ledger batch.",
    ),
    (
        "strongroom_ledger_queue_depth",
        "Postings waiting in the ledger writer's queue.",
    ),
    (
        "strongroom_transfers_posted_total",
        "Postings committed by the ledger writer.",
    ),
    (
        "strongroom_writer_caller_share_refused_total",
        "Postings refused because one caller held its whole share of the writer queue.",
    ),
    (
        "strongroom_foreign_source_refused_total",
        "Transfers refused because the source account is not the caller's.",
    ),
    (
        "strongroom_db_pool_connections",
        "Database pool connections, by state (idle, in_use).",
    ),
    (
        "strongroom_kms_request_duration_seconds",
        "Time of a KEK provider call, by operation (wrap, unwrap).",
    ),
    (
        "strongroom_kms_errors_total",
        "KEK provider calls that failed, by operation.",
    ),
    (
        "strongroom_refresh_token_reuse_total",
        "Rotated refresh tokens presented again (the session was revoked).",
    ),
    (
        "strongroom_rate_limited_total",
        "Requests refused by a rate limit or throttle.",
    ),
    (
        "strongroom_argon2_rejected_total",
        "Password hashes refused because the Argon2 pool was full (503).",
    ),
    (
        "strongroom_rate_limit_local_fallback_total",
        "Rate-limit decisions taken locally because Redis was unreachable.",
    ),
    (
        "strongroom_redis_errors_total",
        "Redis commands that failed.",
    ),
    (
        "strongroom_redis_degraded",
        "1 while Redis is unreachable (limits and revocation fall back to local and the store).",
    ),
    ("strongroom_instances", "Live instances seen through Redis."),
    (
        "strongroom_invalidations_dropped_total",
        "Revocation broadcasts that could not be sent or were lagged.",
    ),
    (
        "strongroom_invalidation_poll_errors_total",
        "Failed polls of the store's invalidation feed.",
    ),
    (
        "strongroom_audit_checkpoints_total",
        "Signed audit checkpoints written.",
    ),
    (
        "strongroom_audit_checkpoint_failures_total",
        "Audit checkpoint rounds that failed (the next round retries).",
    ),
    (
        "strongroom_protection_detections_total",
        "Account-protection detections (impossible travel, hijacked refresh).",
    ),
    ("strongroom_quarantines_total", "Accounts quarantined."),
    (
        "strongroom_new_devices_total",
        "Sign-ins from a kind of device new to the account.",
    ),
    (
        "strongroom_device_cookie_invalid_total",
        "Device cookies that failed their signature check.",
    ),
    (
        "strongroom_geo_blocked_total",
        "Requests refused for their country.",
    ),
    (
        "strongroom_geoip_degraded",
        "1 while the GeoIP database cannot be read.",
    ),
    (
        "strongroom_screening_matches_total",
        "Requests that matched a screening rule.",
    ),
    (
        "strongroom_connections_refused_total",
        "Connections refused over the per-client limit.",
    ),
    (
        "strongroom_connections_expired_total",
        "Connections closed after their idle or header timeout.",
    ),
    (
        "strongroom_internal_unknown_principals_total",
        "Internal-CA certificates naming a service with no [services] entry.",
    ),
    (
        "strongroom_throttled_total",
        "Attempts refused by an identity throttle (sign-in, second factor, registration, mail, refresh), by throttle.",
    ),
    (
        "strongroom_argon2_admitted",
        "Password hashes admitted and not yet finished (running or queued), by lane.",
    ),
    (
        "strongroom_argon2_capacity",
        "Password hashes a lane admits at once; beyond it, 503 with Retry-After.",
    ),
];

/// Installs the global metrics recorder (histograms with buckets, HELP for every family, the
/// build info) and keeps its histograms drained.
pub fn init_metrics() -> anyhow::Result<PrometheusHandle> {
    use metrics_exporter_prometheus::Matcher;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full("strongroom_ledger_batch_postings".into()),
            BATCH_BUCKETS,
        )?
        .install_recorder()?;
    for (name, help) in FAMILIES {
        metrics::describe_counter!(*name, *help);
    }
    metrics::gauge!("strongroom_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // The standard process families (CPU seconds, resident memory, open descriptors, threads,
    // start time), refreshed with the histograms' upkeep.
    let process = metrics_process::Collector::default();
    process.describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
        loop {
            interval.tick().await;
            process.collect();
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}
