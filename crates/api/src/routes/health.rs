//! Liveness and readiness: `/healthz` on the public and ops listeners, `/readyz` and
//! `/metrics` on the ops listener only.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use secrecy::ExposeSecret;

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
    if !store_answers(&state).await {
        return Err(app::Error::Unavailable {
            retry_after_secs: 1,
        }
        .into());
    }
    Ok(Json(Readiness {
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
    }))
}

/// The last store probe: when it ran and whether the store answered. Probes within
/// `READINESS_CACHE` of it answer from it, and concurrent probes wait for the one running, so a
/// flood of `/readyz` costs at most one query per interval and never drains the pool.
static LAST_PROBE: tokio::sync::Mutex<Option<(std::time::Instant, bool)>> =
    tokio::sync::Mutex::const_new(None);

/// Whether the store answers (within `READINESS_TIMEOUT`, so an orchestrator's probe gets its
/// answer within a second even with the database gone or hanging).
async fn store_answers(state: &AppState) -> bool {
    let mut last = LAST_PROBE.lock().await;
    if let Some((at, answered)) = *last
        && at.elapsed() < crate::limits::READINESS_CACHE
    {
        return answered;
    }
    let answered = match tokio::time::timeout(
        crate::limits::READINESS_TIMEOUT,
        state.app.store.ping(),
    )
    .await
    {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "readiness check failed");
            false
        }
        Err(_) => {
            tracing::warn!("readiness check failed: the database did not answer in time");
            false
        }
    };
    *last = Some((std::time::Instant::now(), answered));
    answered
}

/// Prometheus text exposition format. With `server.ops_token` set, only for a scraper that
/// presents it as a bearer token (401 `invalid_token` otherwise).
pub async fn metrics(
    State(state): State<OpsState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(expected) = &state.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !crypto::secrets_equal(presented.as_bytes(), expected.expose_secret().as_bytes()) {
            return Err(ApiError::INVALID_TOKEN);
        }
    }
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
