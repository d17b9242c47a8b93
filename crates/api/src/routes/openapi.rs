//! The OpenAPI 3.1 description of the public API, generated from the handlers' annotations.

use std::sync::LazyLock;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use utoipa::OpenApi;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::dto::{
    AccountList, AccountView, Address, AssertionRequest, CodeRequest, EnrolRequest, EntryList,
    EntryView, FactorList, Health, LoginAnswer, LoginOptionsRequest, LoginRequest, Me,
    MfaChallenge, MfaStatus, NewAccount, NewTransfer, PasskeyRegistered, PasskeyView, ProfileInput,
    ProfileView, RecoveryCodes, RegisterPasskeyRequest, RegisterRequest, RegisterResponse,
    SecurityEvent, SecurityEventList, SessionList, SessionView, TicketCodeRequest,
    TicketRecoveryRequest, TokenResponse, TotpEnrolment, TransferView, UpdateMe,
};
use crate::error::{FieldErrorDoc, Problem};
use crate::routes::{auth, factors, health, ledger, me, mfa, profile, webauthn};

/// Declares the bearer (JWT access token) security scheme.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strongroom",
        description = "Zero-trust core for products that hold and move customers' money.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health::healthz, openapi_json, auth::jwks, auth::register, auth::login, auth::refresh,
        auth::logout, auth::list_sessions, auth::delete_session, me::get_me, me::patch_me,
        me::security_events, mfa::enroll, mfa::confirm, mfa::login_totp, mfa::login_recovery,
        mfa::step_up_totp, webauthn::register_options, webauthn::register,
        webauthn::login_options, webauthn::login, webauthn::step_up_options, webauthn::step_up,
        profile::put_profile, profile::get_profile, profile::delete_profile,
        ledger::create_account, ledger::list_accounts, ledger::get_account,
        ledger::account_entries, ledger::create_transfer, ledger::get_transfer,
        factors::list_factors, factors::delete_totp, factors::delete_passkey,
        factors::regenerate_recovery_codes,
    ),
    components(schemas(
        Health, Problem, FieldErrorDoc, RegisterRequest, RegisterResponse, LoginRequest,
        TokenResponse, SessionView, SessionList, Me, MfaStatus, UpdateMe, SecurityEvent,
        SecurityEventList, MfaChallenge, TotpEnrolment, CodeRequest, RecoveryCodes,
        TicketCodeRequest, TicketRecoveryRequest, LoginAnswer, RegisterPasskeyRequest,
        PasskeyRegistered, LoginOptionsRequest, AssertionRequest, Address, ProfileInput,
        ProfileView, NewAccount, AccountView, AccountList, EntryView, EntryList, NewTransfer,
        TransferView, EnrolRequest, FactorList, PasskeyView,
    )),
    modifiers(&BearerScheme)
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
