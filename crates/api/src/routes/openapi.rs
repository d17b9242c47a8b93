//! The OpenAPI 3.1 description of the public API, generated from the handlers' annotations.

use std::sync::LazyLock;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use utoipa::OpenApi;

use crate::error::{FieldError, Problem};
use crate::routes::health::{self, Health};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strongroom",
        description = "Zero-trust core for products that hold and move customers' money.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(health::healthz, openapi_json),
    components(schemas(Health, Problem, FieldError))
)]
pub struct ApiDoc;

static OPENAPI_JSON: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|_| "{}".to_owned())
});

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API",
        content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Response {
    let mut response = OPENAPI_JSON.as_str().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
