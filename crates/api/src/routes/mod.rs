//! Route handlers, one module per area, and the OpenAPI description built from them.

pub mod auth;
pub mod factors;
pub mod health;
pub mod internal;
pub mod ledger;
pub mod me;
pub mod mfa;
pub mod openapi;
pub mod profile;
pub mod webauthn;
