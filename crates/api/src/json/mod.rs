//! `ApiJson<T>`: the only way a handler reads a JSON body.
//!
//! Order of checks: media type (415), size while reading (413), nesting depth without
//! recursion (400), then strict deserialization where every request type is
//! `deny_unknown_fields` (400 `unknown_field`) and derived structs refuse duplicate keys
//! (400 `invalid_request`). Error details never echo library type names.

use axum::extract::{FromRequest, Request};
use http::header;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::limits::JSON_DEPTH_MAX;

/// A JSON request body, checked as described in the module documentation.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        if !is_json_content_type(request.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = crate::middleware::body_limit(&request);
        let limited = Limited::new(request.into_body(), limit);
        let bytes = match limited.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(ApiError::PayloadTooLarge);
            }
            Err(_) => {
                return Err(ApiError::invalid_request(
                    "The request body could not be read.",
                ));
            }
        };
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be absent: no body at all is `None`; a body must pass every check
/// of `ApiJson` (a body that is not `application/json` is 415).
#[derive(Debug)]
pub struct OptionalApiJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let declares_body = request.headers().contains_key(header::CONTENT_TYPE)
            || request
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_some_and(|length| length.as_bytes() != b"0")
            || request.headers().contains_key(header::TRANSFER_ENCODING);
        if declares_body {
            ApiJson::from_request(request, state)
                .await
                .map(|ApiJson(value)| OptionalApiJson(Some(value)))
        } else {
            Ok(OptionalApiJson(None))
        }
    }
}

/// `application/json`, optionally with `charset=utf-8`; nothing else.
pub fn is_json_content_type(value: Option<&http::HeaderValue>) -> bool {
    let Some(value) = value.and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let mut parts = value.split(';').map(str::trim);
    let media_type = parts.next().unwrap_or_default();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|parameter| {
        parameter.is_empty()
            || parameter.eq_ignore_ascii_case("charset=utf-8")
            || parameter.eq_ignore_ascii_case("charset=\"utf-8\"")
    })
}

/// Deserializes a body that already passed the size check.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if json_depth_exceeds(bytes, JSON_DEPTH_MAX) {
        return Err(ApiError::invalid_request(format!(
            "The body nests objects or arrays deeper than {JSON_DEPTH_MAX} levels."
        )));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(classify)?;
    deserializer
        .end()
        .map_err(|_| ApiError::invalid_request("The body has data after the JSON value."))?;
    Ok(value)
}

fn classify(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    let message = inner.to_string();
    let position = format!("line {}, column {}", inner.line(), inner.column());
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::invalid_request(format!("The body is not valid JSON ({position})."));
    }
    // The path sometimes already ends with the offending key (unknown fields) and sometimes
    // names only its parent (missing fields).
    let join = |name: &str| {
        if path.is_empty() || path == "." {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.clone()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = backticked_after(&message, "unknown field `") {
        return ApiError::UnknownField { field: join(name) };
    }
    if let Some(name) = backticked_after(&message, "duplicate field `") {
        return ApiError::invalid_request(format!("Duplicate key `{}`.", join(name)));
    }
    if let Some(name) = backticked_after(&message, "missing field `") {
        return ApiError::invalid_request(format!("Missing required field `{}`.", join(name)));
    }
    if path.is_empty() || path == "." {
        ApiError::invalid_request(format!("The body has the wrong shape ({position})."))
    } else {
        ApiError::invalid_request(format!("Field `{path}` has the wrong type or value."))
    }
}

/// The text between `prefix` and the next backtick, when `message` has it. Field names come
/// from our own structs, never from the request, so they are safe to echo — except for unknown
/// fields, which are client text: those are bounded and restricted to printable ASCII.
fn backticked_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    const ECHOED_FIELD_LEN_MAX: usize = 64;
    let start = message.find(prefix)?.checked_add(prefix.len())?;
    let rest = message.get(start..)?;
    let name = rest.get(..rest.find('`')?)?;
    let printable = name
        .bytes()
        .all(|byte| byte.is_ascii_graphic() && byte != b'`');
    if name.len() <= ECHOED_FIELD_LEN_MAX && printable {
        Some(name)
    } else {
        Some("(unprintable)")
    }
}

/// True when `bytes` nests `[`/`{` deeper than `depth_max`. A linear scan with a counter (no
/// recursion, no allocation) that skips string contents, so hostile input cannot blow the stack.
pub fn json_depth_exceeds(bytes: &[u8], depth_max: usize) -> bool {
    let mut depth: usize = 0;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth = depth.saturating_add(1);
                if depth > depth_max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests;
