//! Liveness and readiness: `/healthz` on the public and ops listeners, `/readyz` and
//! `/metrics` on the ops listener only.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use crate::dto::{Health, Readiness};
use crate::error::ApiError;
use crate::state::{AppState, OpsState};

/// Liveness: the process is up and serving. Says nothing about dependencies.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The server is alive", body = Health), crate::problems::EdgeProblems))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the store answers and its schema is in place. An unreachable Redis does not
/// make an instance unready (it limits locally); the details say so.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    // An orchestrator's probe gets its answer within a second, even with the database gone.
    let ping = tokio::time::timeout(crate::limits::READINESS_TIMEOUT, state.app.store.ping())
        .await
        .unwrap_or_else(|_| {
            Err(store::StoreError::Invariant(
                "the database did not answer within the readiness timeout",
            ))
        });
    match ping {
        Ok(()) => Ok(Json(Readiness {
            status: "ready",
            redis: state.app.cluster.redis_status(),
            instances: state
                .app
                .cluster
                .redis
                .as_ref()
                .map(|redis| redis.instances()),
            checkpoints: if state.app.checkpoints_late() {
                "late"
            } else {
                "ok"
            },
        })),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            Err(app::Error::Unavailable {
                retry_after_secs: 1,
            }
            .into())
        }
    }
}

/// Prometheus text exposition format.
pub async fn metrics(State(state): State<OpsState>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
