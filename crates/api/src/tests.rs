//! Router-level tests of the edge stack with `oneshot`: the JSON extractor's answers, panics,
//! and problem rendering, independent of sockets.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;

use super::*;
use crate::client_ip::PeerAddr;
use crate::json::ApiJson;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    amount: i64,
}

async fn accept(ApiJson(payload): ApiJson<Payload>) -> Json<Value> {
    Json(serde_json::json!({ "amount": payload.amount }))
}

async fn explode() -> &'static str {
    panic!("secret internal detail at /srv/strongroom/src/handler.rs")
}

fn router() -> Router {
    let routes = Router::new()
        .route("/json", post(accept))
        .route("/panic", get(explode));
    with_edge(routes, (), "public", &EdgeConfig::default(), None)
}

async fn send(request: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let mut request = request;
    request
        .extensions_mut()
        .insert(PeerAddr(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let response = router().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post_json(content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::post("/json");
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(body.into()).unwrap()
}

async fn check(request: Request<Body>, status: u16, code: &str) -> Value {
    let (got_status, headers, body) = send(request).await;
    assert_eq!(got_status.as_u16(), status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(
        body["request_id"].as_str().unwrap(),
        headers["x-request-id"].to_str().unwrap()
    );
    body
}

#[tokio::test]
async fn json_bodies_get_the_documented_codes() {
    // Clients need a precise, stable code for each kind of bad body.
    let json = Some("application/json");
    check(
        post_json(Some("text/plain"), r#"{"amount":1}"#),
        415,
        "unsupported_media_type",
    )
    .await;
    check(
        post_json(None, r#"{"amount":1}"#),
        415,
        "unsupported_media_type",
    )
    .await;
    check(
        post_json(Some("application/x-www-form-urlencoded"), "amount=1"),
        415,
        "unsupported_media_type",
    )
    .await;
    check(post_json(json, r#"{"amount":"#), 400, "invalid_request").await;
    check(post_json(json, r#"{"amount":"1"}"#), 400, "invalid_request").await;
    check(
        post_json(json, r#"{"amount":1,"amount":2}"#),
        400,
        "invalid_request",
    )
    .await;
    check(post_json(json, ""), 400, "invalid_request").await;
    let unknown = check(
        post_json(json, r#"{"amount":1,"roles":["admin"]}"#),
        400,
        "unknown_field",
    )
    .await;
    assert_eq!(unknown["errors"][0]["field"], "roles");
    let deep = format!(
        "{{\"amount\":1,\"x\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    check(post_json(json, deep), 400, "invalid_request").await;
    let (status, _, body) = send(post_json(json, r#"{"amount":7}"#)).await;
    assert_eq!((status, body["amount"].as_i64()), (StatusCode::OK, Some(7)));
}

#[tokio::test]
async fn oversized_bodies_are_refused_while_streaming() {
    // A chunked body without Content-Length is cut off at the limit, not buffered whole.
    let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
    let chunks = (0..(limits::REQUEST_BODY_BYTES_MAX / chunk.len() + 2))
        .map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    check(
        post_json(Some("application/json"), body),
        413,
        "payload_too_large",
    )
    .await;
}

#[tokio::test]
async fn panics_become_bare_internal_errors() {
    // A bug must never leak paths, messages or library names to the client.
    let body = check(
        Request::get("/panic").body(Body::empty()).unwrap(),
        500,
        "internal_error",
    )
    .await;
    let text = body.to_string();
    assert!(
        !text.contains("secret") && !text.contains("/srv") && !text.contains("panic"),
        "{text}"
    );
}
