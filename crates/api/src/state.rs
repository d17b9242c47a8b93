//! Shared state handed to handlers: the application and the edge's own settings.

use std::sync::Arc;

use http::HeaderValue;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;

#[derive(Clone, Debug)]
pub struct AppState {
    pub app: Arc<app::App>,
    /// Origins allowed on cookie endpoints: our own and the CORS allowlist.
    pub trusted_origins: Arc<Vec<HeaderValue>>,
}

#[derive(Clone)]
pub struct OpsState {
    pub app: AppState,
    pub metrics: PrometheusHandle,
    /// `server.ops_token`: when set, `/metrics` answers only to `Authorization: Bearer <it>`.
    pub metrics_token: Option<Arc<SecretString>>,
}

impl axum::extract::FromRef<OpsState> for AppState {
    fn from_ref(ops: &OpsState) -> AppState {
        ops.app.clone()
    }
}
