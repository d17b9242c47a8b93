//! The customer web app on the public listener: the files embedded by the `webapp` crate,
//! with single-page-app routing that never hides an API 404.
//!
//! `GET /` and any path outside the API prefixes answer `index.html` (the app routes in the
//! browser); `/docs` answers the API reference page (`docs.html`: Swagger UI over
//! `/openapi.json`); a path that names a file answers that file or 404; API paths keep their
//! own problem+json 404. Responses carry the `WebAppResponse` marker, so `security_headers` gives
//! them the web app's CSP and keeps their caching headers.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, Uri, header};

use crate::error::ApiError;
use crate::middleware::WebAppResponse;

/// Paths that belong to the API (or the ops probes): never answered with the app.
const API_PREFIXES: [&str; 5] = [
    "/v1",
    "/internal",
    "/.well-known",
    "/openapi.json",
    "/healthz",
];

pub const WEB_APP_NOT_BUILT_CODE: &str = "web_app_not_built";
/// The API reference page, and the file that holds it.
const DOCS_PATH: &str = "/docs";
const DOCS_FILE: &str = "/docs.html";

/// The fallback of the public router: the app's files, its entry document for client-side
/// routes, or the API's own 404.
pub async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if is_api_path(path) {
        return ApiError::NoRoute.into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::MethodNotAllowed.into_response();
    }
    if !webapp::is_built() {
        return not_built();
    }
    if path == DOCS_PATH
        && let Some(docs) = webapp::asset(DOCS_FILE)
    {
        return file(docs);
    }
    if let Some(asset) = webapp::asset(path) {
        return file(asset);
    }
    if names_a_file(path) {
        return ApiError::NoRoute.into_response();
    }
    match webapp::index_html() {
        Some(index) => file(index),
        None => not_built(),
    }
}

fn is_api_path(path: &str) -> bool {
    API_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// `/assets/x.js` or `/favicon.ico` name files; `/accounts/0192…` is a route of the app.
fn names_a_file(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
}

fn file(asset: &'static webapp::Asset) -> Response {
    let mut response = Response::new(Body::from(asset.bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type()),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(asset.caching().header_value()),
    );
    response.extensions_mut().insert(WebAppResponse);
    response
}

/// 503 `web_app_not_built`: this binary was compiled before `web/dist` existed. The API
/// works as usual.
fn not_built() -> Response {
    ApiError::WebAppNotBuilt.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_never_answered_with_the_app() {
        // An unknown API path must stay a problem+json 404, not a 200 HTML page.
        for path in [
            "/v1",
            "/v1/nope",
            "/internal/v1/x",
            "/.well-known/jwks.json",
            "/openapi.json",
            "/healthz",
        ] {
            assert!(is_api_path(path), "{path}");
        }
        for path in ["/", "/v1x", "/accounts", "/healthzz", "/openapi.jsonx"] {
            assert!(!is_api_path(path), "{path}");
        }
    }

    #[test]
    fn only_the_last_segment_decides_whether_a_path_names_a_file() {
        assert!(names_a_file("/favicon.ico"));
        assert!(names_a_file("/assets/index-1a2b.js"));
        assert!(!names_a_file(
            "/accounts/0192f1a4-7c1e-7bb5-a2a0-4f0d5a1b2c3d"
        ));
        assert!(!names_a_file("/v.1/security"));
        assert!(!names_a_file("/"));
    }
}
