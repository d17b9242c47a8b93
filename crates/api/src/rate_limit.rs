//! Route-class rate limits (`[rate_limits]`, docs/api.md "Rate limiting"): every request of a
//! limited class is counted against its key — the client network, the signed-in user or the
//! calling service — before any handler touches the store. Over budget: 429 `rate_limited`
//! with `Retry-After`; every response of a limited class carries `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset`. A response that set its own (a sign-in
//! throttle's 429) keeps them.

use app::cluster::{Decision, LimitKey, RouteClass};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method};

use crate::client_ip::ClientIp;
use crate::context::bearer_token;
use crate::error::ApiError;
use crate::middleware::ListenerName;
use crate::principal::PeerIdentity;
use crate::state::AppState;

/// The class of a request, or `None` for what is not limited (health, the OpenAPI document,
/// JWKS and the web app's static files: no store, no secrets).
pub fn route_class(listener: &str, method: &Method, path: &str) -> Option<RouteClass> {
    if listener == "internal" {
        return Some(RouteClass::Internal);
    }
    if listener != "public" || !path.starts_with("/v1/") {
        return None;
    }
    let reading = *method == Method::GET || *method == Method::HEAD;
    if path.starts_with("/v1/admin/") {
        return Some(RouteClass::Admin);
    }
    if path == "/v1/transfers" && *method == Method::POST {
        return Some(RouteClass::Money);
    }
    let session_management = path == "/v1/auth/sessions" || path.starts_with("/v1/auth/sessions/");
    if (path.starts_with("/v1/auth/") || path.starts_with("/v1/mfa/")) && !session_management {
        return Some(RouteClass::Auth);
    }
    Some(if reading {
        RouteClass::Read
    } else {
        RouteClass::Write
    })
}

/// The key a request is counted against.
fn limit_key(state: &AppState, request: &Request, key: LimitKey) -> Option<String> {
    let ip = request.extensions().get::<ClientIp>()?.0;
    let network = || format!("ip:{}", app::identity::throttle::client_network(ip));
    Some(match key {
        LimitKey::Ip => network(),
        // Counted per signed-in session of the user: a thief holding one stolen session
        // cannot spend the budget the owner needs to revoke it.
        LimitKey::User => bearer_token(request.headers())
            .and_then(|token| state.app.token_session(token))
            .map_or_else(network, |(user, session)| format!("user:{user}:{session}")),
        LimitKey::Service => match request.extensions().get::<PeerIdentity>() {
            Some(PeerIdentity::Service(service)) => format!("service:{}", service.name),
            _ => network(),
        },
    })
}

fn set_headers(headers: &mut HeaderMap, decision: &Decision) {
    if headers.contains_key("ratelimit-limit") {
        return;
    }
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(decision.reset_secs));
}

pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let listener = request
        .extensions()
        .get::<ListenerName>()
        .map_or("", |name| name.0);
    let Some(class) = route_class(listener, request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let settings = state.app.cluster.local.settings().get(class);
    let Some(key) = limit_key(&state, &request, settings.key) else {
        return ApiError::INTERNAL.into_response();
    };
    let decision = state.app.cluster.rate_limit(class, &key).await;
    if !decision.allowed {
        metrics::counter!("strongroom_rate_limited_total", "class" => class.name()).increment(1);
        let mut response = ApiError::App(app::Error::RateLimited {
            retry_after_secs: decision.retry_after_secs,
            limit: decision.limit,
        })
        .into_response();
        set_headers(response.headers_mut(), &decision);
        return response;
    }
    let mut response = next.run(request).await;
    set_headers(response.headers_mut(), &decision);
    response
}

#[cfg(test)]
mod tests;
