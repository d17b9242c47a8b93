//! Route handlers, one module per area, and the OpenAPI description built from them.

pub mod health;
pub mod internal;
pub mod openapi;
