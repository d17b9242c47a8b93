//! The edge middleware every public and internal request passes, outermost first:
//! security headers → request id → access log and metrics → problem rendering → CORS →
//! body-size pre-check → client address → timeout → panic catcher → (public listener:
//! GeoIP location and country blocking) → handler.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, StatusCode, header};

use crate::client_ip::{self, ClientIp, PeerAddr, TrustedProxies};
use crate::error::{ApiError, PROBLEM_CONTENT_TYPE, Problem};
use crate::limits::{REQUEST_ID_LEN_MAX, REQUEST_TIMEOUT};
use crate::principal::PeerIdentity;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request: echoed from a well-formed `X-Request-Id` or generated.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Which listener a request arrived on, for logs and metrics.
#[derive(Debug, Clone, Copy)]
pub struct ListenerName(pub &'static str);

/// Marks a response of the customer web app (HTML, JS, CSS): it gets the web app's CSP and
/// keeps the caching headers its handler chose.
#[derive(Debug, Clone, Copy)]
pub struct WebAppResponse;

const JSON_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";
/// The web app CSP (docs/api.md): scripts and styles from our own origin only (no inline code), images also
/// as `data:` URLs, calls only to our own origin.
pub const WEB_APP_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
     magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=()";

/// Sets the docs/api.md security header set on every response and strips any `Server` banner.
/// Web app responses get the web app's CSP and keep their own `Cache-Control`.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let web_app = response.extensions().get::<WebAppResponse>().is_some();
    let headers = response.headers_mut();
    let set = |headers: &mut http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    );
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        if web_app {
            WEB_APP_CONTENT_SECURITY_POLICY
        } else {
            JSON_CONTENT_SECURITY_POLICY
        },
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        PERMISSIONS_POLICY,
    );
    // Every API answer is about one caller or is cheap to recompute: nothing is cacheable.
    // (The web app's files set their own: hashed assets are immutable.)
    if !web_app || !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    headers.remove(header::SERVER);
    headers.remove(HeaderName::from_static("x-powered-by"));
    response
}

/// True for 1–`REQUEST_ID_LEN_MAX` characters of `[A-Za-z0-9._-]`.
pub fn is_well_formed_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= REQUEST_ID_LEN_MAX
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Echoes a well-formed `X-Request-Id` or generates one, for the request and the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let incoming = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_well_formed_request_id(value))
        .map(str::to_owned);
    let id = incoming.unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Who made a request, as the access log names it: set once by the bearer check
/// (`user:ID`); services are named from their certificate.
#[derive(Clone, Default)]
pub struct LoggedPrincipal(pub std::sync::Arc<std::sync::OnceLock<String>>);

/// One structured log line and the request metrics, after the response is built. Logs the
/// route template (never the raw path or query, which may carry personal data) and the
/// principal (`user:ID` or `service:NAME`; empty for anonymous requests).
pub async fn access_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let listener = request
        .extensions()
        .get::<ListenerName>()
        .map_or("unknown", |name| name.0);
    let peer = request
        .extensions()
        .get::<PeerAddr>()
        .map(|peer| peer.0.ip());
    let service = match request.extensions().get::<PeerIdentity>() {
        Some(PeerIdentity::Service(service)) => Some(format!("service:{}", service.name)),
        _ => None,
    };
    let slot = LoggedPrincipal::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    let principal = service
        .or_else(|| slot.0.get().cloned())
        .unwrap_or_default();
    let client_ip = response
        .extensions()
        .get::<ClientIp>()
        .map(|ip| ip.0)
        .or(peer);
    let latency = started.elapsed();
    let status = response.status().as_u16();
    tracing::info!(
        target: "strongroom::access",
        request_id,
        listener,
        method = %method,
        route,
        status,
        latency_ms = latency.as_secs_f64() * 1000.0,
        client_ip = client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        principal,
        "request"
    );
    let labels = [
        ("listener", listener.to_owned()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("strongroom_http_requests_total", &labels).increment(1);
    metrics::histogram!("strongroom_http_request_duration_seconds", &labels)
        .record(latency.as_secs_f64());
    response
}

/// Writes the problem+json body of every error response, with the request id; turns any error
/// response that is not already a problem (axum's 404/405, a caught panic) into one.
pub async fn render_problems(request: Request, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let mut response = next.run(request).await;
    let status = response.status();
    let problem = match response.extensions_mut().remove::<Problem>() {
        Some(problem) => problem,
        None if status.is_client_error() || status.is_server_error() => {
            ApiError::for_status(status).to_problem()
        }
        None => return response,
    };
    problem_response(
        response,
        Problem {
            request_id,
            ..problem
        },
    )
}

fn problem_response(response: Response, problem: Problem) -> Response {
    let (mut parts, _body) = response.into_parts();
    let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
    parts.status =
        StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// The body limit of `request`: batch-sized for the batch route on the internal listener
/// (mutual TLS), `REQUEST_BODY_BYTES_MAX` everywhere else.
pub fn body_limit<B>(request: &http::Request<B>) -> usize {
    let internal = request
        .extensions()
        .get::<ListenerName>()
        .is_some_and(|listener| listener.0 == "internal");
    if internal && request.uri().path() == crate::limits::BATCH_PATH {
        crate::limits::BATCH_REQUEST_BODY_BYTES_MAX
    } else {
        crate::limits::REQUEST_BODY_BYTES_MAX
    }
}

/// 413 before reading when the declared length is over the limit; otherwise the whole body is
/// read here (within `body_limit` and `REQUEST_TIMEOUT`) before any handler runs.
/// A handler that refuses early (no token, wrong method) then never leaves unread bytes on the
/// connection, which would make the close reset it under the client and lose the answer.
pub async fn body_size_precheck(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let max = body_limit(&request);
    let limit = u64::try_from(max).unwrap_or(u64::MAX);
    if declared.is_some_and(|length| length > limit) {
        return ApiError::PayloadTooLarge.into_response();
    }
    let may_have_body = declared.is_some_and(|length| length > 0)
        || request.headers().contains_key(header::TRANSFER_ENCODING)
        || (declared.is_none() && request.version() >= http::Version::HTTP_2);
    if !may_have_body {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, max);
    let bytes = match tokio::time::timeout(
        REQUEST_TIMEOUT,
        http_body_util::BodyExt::collect(limited),
    )
    .await
    {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(error))
            if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return ApiError::PayloadTooLarge.into_response();
        }
        Ok(Err(_)) => {
            return ApiError::invalid_request("The request body could not be read.")
                .into_response();
        }
        Err(_) => return ApiError::RequestTimeout.into_response(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Resolves `ClientIp` from the peer and, for trusted proxies, the forwarding headers.
pub async fn client_address(
    State(trusted): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(PeerAddr(peer)) = request.extensions().get::<PeerAddr>().copied() else {
        return ApiError::INTERNAL.into_response();
    };
    match client_ip::resolve(peer.ip(), request.headers(), &trusted) {
        Ok(address) => {
            request.extensions_mut().insert(ClientIp(address));
            let mut response = next.run(request).await;
            response.extensions_mut().insert(ClientIp(address));
            response
        }
        Err(malformed) => {
            tracing::warn!(peer = %peer, reason = malformed.0, "malformed forwarding header");
            ApiError::invalid_request("Malformed forwarding header.").into_response()
        }
    }
}

/// Answers 503 `request_timeout` when a handler runs longer than `REQUEST_TIMEOUT`.
pub async fn request_timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout.into_response(),
    }
}

/// The response for a panicking handler: a bare 500 `internal_error`, nothing internal.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    ApiError::INTERNAL.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_echoed_only_when_well_formed() {
        assert!(is_well_formed_request_id("abc-123_x.y"));
        assert!(is_well_formed_request_id(&"a".repeat(REQUEST_ID_LEN_MAX)));
        assert!(!is_well_formed_request_id(
            &"a".repeat(REQUEST_ID_LEN_MAX + 1)
        ));
        assert!(!is_well_formed_request_id(""));
        assert!(!is_well_formed_request_id("a b"));
        assert!(!is_well_formed_request_id("<script>"));
        assert!(!is_well_formed_request_id("a\u{e9}"));
    }
}

/// Where the client address is (GeoIP), for the use cases' fingerprints.
#[derive(Debug, Clone)]
pub struct Located(pub Option<app::protection::Location>);

/// The id of a genuine `__Host-strongroom_device` cookie.
#[derive(Debug, Clone)]
pub struct DeviceId(pub Option<String>);

/// The value of cookie `name`, if the request carries it.
pub fn cookie_value<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

/// Public listener: locates the client and refuses a blocked country (403 `geo_blocked`)
/// before any other work; recognises the browser's device cookie (one that fails its MAC is
/// ignored and counted, never an error).
pub async fn fingerprint(
    State(state): State<crate::state::AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied() else {
        return ApiError::INTERNAL.into_response();
    };
    let location = state.app.locate(ip);
    if state.app.protection.is_blocked(location.as_ref()) {
        metrics::counter!("strongroom_geo_blocked_total").increment(1);
        return ApiError::App(app::Error::GeoBlocked).into_response();
    }
    let cookie = cookie_value(
        request.headers(),
        app::protection::device_cookie::DEVICE_COOKIE,
    );
    let device = cookie.and_then(|value| state.app.protection.device_cookies.verify(value));
    if cookie.is_some() && device.is_none() {
        metrics::counter!("strongroom_device_cookie_invalid_total").increment(1);
    }
    request.extensions_mut().insert(Located(location));
    request.extensions_mut().insert(DeviceId(device));
    next.run(request).await
}
