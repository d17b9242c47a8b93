//! Request screening at the edge (`protection.screening`, rules in
//! `app::protection::screening`): the path, the query string, header values and every string
//! (and member name) of a JSON body. A match is logged with its rule family and place — never
//! the payload — counted, and recorded as a `request_screened` security event when the
//! caller's bearer token names a user; in `block` mode the request is refused with 403
//! `request_rejected` before any handler runs.

use app::protection::screening::{
    CREDENTIAL_FIELDS, ScreeningMode, Threat, screen_text, screen_url_part,
};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::client_ip::ClientIp;
use crate::context::bearer_token;
use crate::error::ApiError;
use crate::limits::JSON_DEPTH_MAX;
use crate::middleware::RequestId;
use crate::state::AppState;

/// Headers not screened: opaque credentials.
const UNSCREENED_HEADERS: [header::HeaderName; 2] = [header::AUTHORIZATION, header::COOKIE];

fn decoded(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// The first threat in the request line and headers, with where it was found.
fn screen_head(request: &Request) -> Option<(Threat, &'static str)> {
    let uri = request.uri();
    if let Some(threat) = screen_url_part(&decoded(uri.path())) {
        return Some((threat, "path"));
    }
    if let Some(query) = uri.query()
        && let Some(threat) = screen_url_part(&decoded(&query.replace('+', " ")))
    {
        return Some((threat, "query"));
    }
    request
        .headers()
        .iter()
        .filter(|(name, _)| !UNSCREENED_HEADERS.contains(name))
        .filter_map(|(_, value)| value.to_str().ok())
        .find_map(screen_text)
        .map(|threat| (threat, "header"))
}

/// The first threat in a JSON document's strings and member names (walked without recursion,
/// at most `JSON_DEPTH_MAX` deep; deeper documents are refused by the JSON extractor anyway).
/// Credentials (`CREDENTIAL_FIELDS`) are not screened.
fn screen_json(document: &Value) -> Option<Threat> {
    let mut stack = vec![(document, 0_usize)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::String(text) => {
                if let Some(threat) = screen_text(text) {
                    return Some(threat);
                }
            }
            Value::Array(items) if depth < JSON_DEPTH_MAX => {
                stack.extend(items.iter().map(|item| (item, depth.saturating_add(1))));
            }
            Value::Object(members) if depth < JSON_DEPTH_MAX => {
                for (name, member) in members {
                    if let Some(threat) = screen_text(name) {
                        return Some(threat);
                    }
                    if !CREDENTIAL_FIELDS.contains(&name.as_str()) {
                        stack.push((member, depth.saturating_add(1)));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

pub async fn screen(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mode = state.app.protection.screening;
    // Only API routes (the rate-limited classes): their budget bounds what a flood of
    // matching requests can cost in logs and security events. The web app's static files
    // touch no store and interpret nothing.
    let listener = request
        .extensions()
        .get::<crate::middleware::ListenerName>()
        .map_or("", |name| name.0);
    let api_route =
        crate::rate_limit::route_class(listener, request.method(), request.uri().path()).is_some();
    if mode == ScreeningMode::Off || !api_route {
        return next.run(request).await;
    }
    let mut found = screen_head(&request);
    let request = if found.is_none() {
        let limit = crate::middleware::body_limit(&request);
        let (parts, body) = request.into_parts();
        // The edge's size check already buffered the body; this reads it from memory.
        let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
            return ApiError::PayloadTooLarge.into_response();
        };
        if let Ok(document) = serde_json::from_slice::<Value>(&bytes) {
            found = screen_json(&document).map(|threat| (threat, "body"));
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        request
    };
    let Some((threat, place)) = found else {
        return next.run(request).await;
    };
    let action = if mode == ScreeningMode::Block {
        "block"
    } else {
        "monitor"
    };
    metrics::counter!("strongroom_screening_matches_total", "rule" => threat.name(), "action" => action)
        .increment(1);
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    tracing::warn!(
        target: "strongroom::security",
        rule = threat.name(),
        place,
        action,
        request_id,
        "request matched a screening rule"
    );
    let user = bearer_token(request.headers()).and_then(|token| state.app.token_subject(token));
    if let (Some(user), Some(ip)) = (user, request.extensions().get::<ClientIp>()) {
        let agent = request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        state.app.request_screened(&user, ip.0, agent, &request_id);
    }
    if mode == ScreeningMode::Block {
        return ApiError::App(app::Error::RequestRejected).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests;
