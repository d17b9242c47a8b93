//! The HTTP edge of Strongroom: the public, internal and ops routers with their middleware,
//! the strict JSON extractor, problem+json errors, client-address resolution and OpenAPI.
//!
//! This crate knows nothing about sockets or TLS (the `server` crate owns listeners); it turns
//! requests that already carry a `PeerAddr` (and, internally, a `PeerIdentity`) into responses.

pub mod client_ip;
pub mod context;
pub mod cookies;
pub mod dto;
pub mod error;
pub mod json;
pub mod limits;
pub mod middleware;
pub mod principal;
pub mod problems;
pub mod rate_limit;
pub mod routes;
pub mod screening;
pub mod state;
pub mod webapp;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{any, get, post};
use http::{HeaderName, HeaderValue, Method, header};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::client_ip::TrustedProxies;
use crate::error::ApiError;
use crate::middleware::{ListenerName, REQUEST_ID_HEADER};
use crate::routes::{
    admin, auth as auth_routes, factors, health, holds, internal, introspect, ledger, lifecycle,
    me, mfa, openapi, outbox, profile, statement, webauthn,
};
pub use crate::state::{AppState, OpsState};

/// Edge settings taken from `[server]`.
#[derive(Debug, Clone, Default)]
pub struct EdgeConfig {
    pub trusted_proxies: TrustedProxies,
    /// Exact origins allowed to make credentialed cross-origin calls; never `*` or `null`.
    pub cors_allowed_origins: Vec<HeaderValue>,
}

/// `/v1/admin/*`: every handler checks the role and a fresh step-up (`app::admin`).
fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/users", get(admin::find_user))
        .route("/v1/admin/users/{id}/lock", post(admin::lock))
        .route("/v1/admin/users/{id}/unlock", post(admin::unlock))
        .route(
            "/v1/admin/users/{id}/lift-quarantine",
            post(admin::lift_quarantine),
        )
        .route("/v1/admin/users/{id}/roles", post(admin::roles))
        .route("/v1/admin/users/{id}/reset-mfa", post(admin::reset_mfa))
        .route("/v1/admin/accounts/{id}/freeze", post(admin::freeze))
        .route("/v1/admin/accounts/{id}/unfreeze", post(admin::unfreeze))
        .route("/v1/admin/approvals", get(admin::approvals))
        .route("/v1/admin/approvals/{id}/approve", post(admin::approve))
        .route("/v1/admin/approvals/{id}/reject", post(admin::reject))
        .route("/v1/admin/audit", get(admin::audit))
}

/// The customer-facing router (TLS listener).
pub fn public_router(state: AppState, edge: &EdgeConfig) -> Router {
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/.well-known/jwks.json", get(auth_routes::jwks))
        .route("/v1/auth/register", post(auth_routes::register))
        .route("/v1/auth/login", post(auth_routes::login))
        .route("/v1/auth/refresh", post(auth_routes::refresh))
        .route("/v1/auth/logout", post(auth_routes::logout))
        .route("/v1/auth/sessions", get(auth_routes::list_sessions))
        .route(
            "/v1/auth/sessions/{id}",
            axum::routing::delete(auth_routes::delete_session),
        )
        .route("/v1/auth/mfa/totp", post(mfa::login_totp))
        .route("/v1/auth/mfa/recovery", post(mfa::login_recovery))
        .route("/v1/auth/step-up/totp", post(mfa::step_up_totp))
        .route("/v1/mfa/totp/enroll", post(mfa::enroll))
        .route("/v1/mfa/totp/confirm", post(mfa::confirm))
        .route(
            "/v1/mfa/webauthn/register/options",
            post(webauthn::register_options),
        )
        .route("/v1/mfa/webauthn/register", post(webauthn::register))
        .route(
            "/v1/auth/webauthn/login/options",
            post(webauthn::login_options),
        )
        .route("/v1/auth/webauthn/login", post(webauthn::login))
        .route(
            "/v1/auth/step-up/webauthn/options",
            post(webauthn::step_up_options),
        )
        .route("/v1/auth/step-up/webauthn", post(webauthn::step_up))
        .route(
            "/v1/me/profile",
            get(profile::get_profile)
                .put(profile::put_profile)
                .delete(profile::delete_profile),
        )
        .route(
            "/v1/accounts",
            get(ledger::list_accounts).post(ledger::create_account),
        )
        .route("/v1/accounts/{id}", get(ledger::get_account))
        .route("/v1/accounts/{id}/entries", get(ledger::account_entries))
        .route("/v1/accounts/{id}/statement", get(statement::statement))
        .route("/v1/currencies", get(ledger::currencies))
        .route(
            "/v1/transfers",
            get(ledger::list_transfers).post(ledger::create_transfer),
        )
        .route("/v1/transfers/{id}", get(ledger::get_transfer))
        .route(
            "/v1/me",
            get(me::get_me)
                .patch(me::patch_me)
                .delete(lifecycle::close_account),
        )
        .route("/v1/me/export", get(lifecycle::export))
        .route("/v1/me/password", post(lifecycle::change_password))
        .route("/v1/me/email", post(lifecycle::change_email))
        .route("/v1/auth/password/forgot", post(lifecycle::forgot_password))
        .route("/v1/auth/password/reset", post(lifecycle::reset_password))
        .route("/v1/auth/email/verify", post(lifecycle::verify_email))
        .merge(admin_routes())
        .route("/v1/me/security-events", get(me::security_events))
        .route("/v1/me/factors", get(factors::list_factors))
        .route(
            "/v1/me/factors/totp",
            axum::routing::delete(factors::delete_totp),
        )
        .route(
            "/v1/me/factors/passkeys/{id}",
            axum::routing::delete(factors::delete_passkey),
        )
        .route(
            "/v1/me/recovery-codes",
            post(factors::regenerate_recovery_codes),
        )
        // The customer web app; API paths it does not know stay problem+json 404s.
        .route("/", any(webapp::serve))
        .route("/{*path}", any(webapp::serve))
        .layer(from_fn_with_state(state.clone(), middleware::fingerprint))
        .layer(from_fn_with_state(state.clone(), screening::screen))
        .layer(from_fn_with_state(state.clone(), rate_limit::limit));
    with_edge(
        routes,
        state,
        "public",
        edge,
        Some(cors_layer(&edge.cors_allowed_origins)),
    )
}

/// The service-to-service router (mutual-TLS listener). Deny by default: every route needs a
/// recognised service principal.
pub fn internal_router(state: AppState, edge: &EdgeConfig) -> Router {
    let routes = Router::new()
        .route("/internal/v1/whoami", get(internal::whoami))
        .route(
            "/internal/v1/profiles/duplicates",
            post(profile::find_duplicates),
        )
        .route("/internal/v1/deposits", post(ledger::deposit))
        .route(limits::BATCH_PATH, post(ledger::post_batch))
        .route("/internal/v1/withdrawals", post(ledger::withdraw))
        .route("/internal/v1/transfers/{id}/reverse", post(ledger::reverse))
        .route("/internal/v1/holds", post(holds::create))
        .route("/internal/v1/holds/{id}", get(holds::show))
        .route("/internal/v1/holds/{id}/capture", post(holds::capture))
        .route("/internal/v1/holds/{id}/void", post(holds::void))
        .route("/internal/v1/accounts/{id}", get(ledger::internal_account))
        .route(
            "/internal/v1/operator-accounts",
            post(ledger::create_operator_account),
        )
        .route("/internal/v1/outbox", get(outbox::list))
        .route("/internal/v1/events", get(outbox::events))
        .route("/internal/v1/introspect", post(introspect::introspect))
        .route("/internal/v1/outbox/ack", post(outbox::ack))
        .route(
            "/internal/v1/accounts/{id}/freeze",
            post(ledger::freeze_account),
        )
        .route(
            "/internal/v1/accounts/{id}/unfreeze",
            post(ledger::unfreeze_account),
        )
        .layer(from_fn(principal::require_known_service))
        .layer(from_fn_with_state(state.clone(), screening::screen))
        .layer(from_fn_with_state(state.clone(), rate_limit::limit));
    with_edge(routes, state, "internal", edge, None)
}

/// The operations router (loopback plain HTTP): health, readiness, metrics.
pub fn ops_router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(axum::Extension(ListenerName("ops")))
                .layer(from_fn(middleware::security_headers))
                .layer(from_fn(middleware::request_id))
                .layer(from_fn(middleware::render_problems)),
        )
}

fn with_edge<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    state: S,
    listener: &'static str,
    edge: &EdgeConfig,
    cors: Option<CorsLayer>,
) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(axum::Extension(ListenerName(listener)))
                .layer(from_fn(middleware::security_headers))
                .layer(from_fn(middleware::request_id))
                .layer(from_fn(middleware::access_log))
                .layer(from_fn(middleware::render_problems))
                .option_layer(cors)
                .layer(from_fn(middleware::body_size_precheck))
                .layer(from_fn_with_state(
                    edge.trusted_proxies.clone(),
                    middleware::client_address,
                ))
                .layer(from_fn(middleware::request_timeout))
                .layer(CatchPanicLayer::custom(middleware::panic_response)),
        )
}

/// CORS by exact allowlist: other origins (including `null` and look-alike suffixes) get no
/// `Access-Control-Allow-Origin` at all.
fn cors_layer(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            REQUEST_ID_HEADER,
        ])
        .expose_headers([
            REQUEST_ID_HEADER,
            header::RETRY_AFTER,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
            HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(limits::CORS_PREFLIGHT_MAX_AGE)
}

#[cfg(test)]
mod tests;

async fn not_found() -> ApiError {
    ApiError::NoRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
