//! Shared state handed to handlers: cheap clones of long-lived services.

use metrics_exporter_prometheus::PrometheusHandle;
use store::Store;

use crate::auth::SharedAuth;

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub auth: SharedAuth,
    pub vault: std::sync::Arc<crate::vault::Vault>,
    pub ledger: std::sync::Arc<LedgerSettings>,
    /// The only path that posts money movements.
    pub writer: store::LedgerWriter,
}

/// `[ledger]` settings.
#[derive(Debug, Clone)]
pub struct LedgerSettings {
    pub currencies: Vec<String>,
    /// Transfers above this many minor units need `acr=mfa`.
    pub step_up_amount: i64,
}

#[derive(Clone)]
pub struct OpsState {
    pub app: AppState,
    pub metrics: PrometheusHandle,
}

impl axum::extract::FromRef<OpsState> for AppState {
    fn from_ref(ops: &OpsState) -> AppState {
        ops.app.clone()
    }
}
