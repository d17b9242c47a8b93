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

/// Installs the global metrics recorder and keeps its histograms drained.
pub fn init_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new().install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
        loop {
            interval.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}
