//! Route handlers, one module per area, and the OpenAPI description built from them. A
//! handler reads its input, calls one use case of `app::App`, and renders the outcome.

pub mod admin;
pub mod auth;
pub mod factors;
pub mod health;
pub mod holds;
pub mod internal;
pub mod introspect;
pub mod ledger;
pub mod lifecycle;
pub mod me;
pub mod mfa;
pub mod openapi;
pub mod outbox;
pub mod profile;
pub mod statement;
pub mod webauthn;

use app::identity::session::PageRequest;
use app::limits::{CURSOR_CHARS_MAX, PAGE_LEN_DEFAULT, PAGE_LEN_MAX};
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;

use crate::dto::PageQuery;
use crate::error::ApiError;
use crate::limits::QUERY_NAME_CHARS_MAX;

/// A validated page request: `limit` in 1..=200 (default 50) and a cursor of the shape our
/// cursors have; whether it names one of the caller's items is the use case's check.
pub fn page(query: Result<Query<PageQuery>, QueryRejection>) -> Result<PageRequest, ApiError> {
    let Query(query) =
        query.map_err(|_| ApiError::invalid_request("Unknown or malformed query parameter."))?;
    page_of(query.limit, query.cursor)
}

/// A page request from a list endpoint's `limit` and `cursor`, checked.
pub fn page_of(limit: Option<i64>, cursor: Option<String>) -> Result<PageRequest, ApiError> {
    let query = PageQuery { limit, cursor };
    let limit = query.limit.unwrap_or(PAGE_LEN_DEFAULT);
    if !(1..=PAGE_LEN_MAX).contains(&limit) {
        return Err(app::Error::field("limit", "out_of_range").into());
    }
    if let Some(cursor) = &query.cursor {
        let well_formed = !cursor.is_empty()
            && cursor.len() <= CURSOR_CHARS_MAX
            && cursor.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if !well_formed {
            return Err(ApiError::invalid_request("Malformed cursor."));
        }
    }
    Ok(PageRequest {
        limit,
        cursor: query.cursor,
    })
}

/// A query, or 400 whose detail names the parameter in our own words (serde's message names
/// it between backticks: "unknown field `from`"; only a plain name is repeated, never the
/// library's text).
pub fn named_query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(query)| query).map_err(|rejection| {
        let text = rejection.body_text();
        let name = text.split('`').nth(1).filter(|name| {
            !name.is_empty()
                && name.len() <= QUERY_NAME_CHARS_MAX
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        match name {
            Some(name) if text.contains("unknown field") => {
                ApiError::invalid_request(format!("Unknown query parameter `{name}`."))
            }
            Some(name) => ApiError::invalid_request(format!("Malformed query parameter `{name}`.")),
            None => ApiError::invalid_request("Unknown or malformed query parameter."),
        }
    })
}
