//! The OpenAPI 3.1 description of the public API, generated from the handlers' annotations.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::Value;
use utoipa::OpenApi;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::dto::{
    AccountList, AccountView, Address, AdminMfa, AdminUser, ApprovalList, ApprovalView,
    AssertionCredentialDoc, AssertionExtensionsDoc, AssertionRequest, AssertionResponseDoc,
    AttestationResponseDoc, AuditActor, AuditList, AuditRecordView, ChangeEmailRequest,
    ChangePasswordRequest, CodeRequest, CredPropsDoc, CurrencyView, DataExport, EnrolRequest,
    EntryList, EntryView, ExportAccount, FactorList, ForgotPasswordRequest, Health, LoginAnswer,
    LoginOptionsRequest, LoginRequest, Me, MfaChallenge, MfaStatus, NewAccount, NewTransfer,
    PasskeyRegistered, PasskeyView, PendingApproval, ProfileInput, ProfileView, RecoveryCodes,
    RegisterPasskeyRequest, RegisterRequest, RegisterResponse, RegistrationCredentialDoc,
    RegistrationExtensionsDoc, ResetPasswordRequest, RoleChange, RoleChangeAction, SecurityEvent,
    SecurityEventList, SessionList, SessionView, StatementView, TicketCodeRequest,
    TicketRecoveryRequest, TokenResponse, TotpEnrolment, TransferItem, TransferList, TransferView,
    UpdateMe, VerifyEmailRequest,
};
use crate::error::{FieldErrorDoc, Problem};
use crate::routes::{
    admin, auth, factors, health, ledger, lifecycle, me, mfa, profile, statement, webauthn,
};
use crate::state::AppState;

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
        ledger::currencies, ledger::create_account, ledger::list_accounts, ledger::get_account,
        ledger::account_entries, statement::statement, ledger::list_transfers, ledger::create_transfer, ledger::get_transfer,
        factors::list_factors, factors::delete_totp, factors::delete_passkey,
        factors::regenerate_recovery_codes, admin::find_user, admin::lock, admin::unlock,
        admin::lift_quarantine, admin::reset_mfa, admin::roles, admin::freeze, admin::unfreeze, admin::approvals,
        admin::approve, admin::reject, admin::audit, lifecycle::forgot_password,
        lifecycle::reset_password, lifecycle::verify_email, lifecycle::change_password,
        lifecycle::change_email, lifecycle::close_account, lifecycle::export,
    ),
    components(schemas(
        Health, Problem, FieldErrorDoc, RegisterRequest, RegisterResponse, LoginRequest,
        TokenResponse, SessionView, SessionList, Me, MfaStatus, UpdateMe, SecurityEvent,
        SecurityEventList, MfaChallenge, TotpEnrolment, CodeRequest, RecoveryCodes,
        TicketCodeRequest, TicketRecoveryRequest, LoginAnswer, RegisterPasskeyRequest,
        PasskeyRegistered, LoginOptionsRequest, AssertionRequest, Address, ProfileInput,
        ProfileView, NewAccount, CurrencyView, StatementView, TransferItem, TransferList, AccountView, AccountList, EntryView, EntryList, NewTransfer,
        TransferView, EnrolRequest, FactorList, PasskeyView, RegistrationCredentialDoc,
        AttestationResponseDoc, RegistrationExtensionsDoc, CredPropsDoc, AssertionCredentialDoc,
        AssertionResponseDoc, AssertionExtensionsDoc, AdminUser, AdminMfa, RoleChange,
        RoleChangeAction, PendingApproval, ApprovalView, ApprovalList, AuditActor,
        AuditRecordView, AuditList, ForgotPasswordRequest, ResetPasswordRequest,
        ChangePasswordRequest, VerifyEmailRequest, ChangeEmailRequest, ExportAccount, DataExport,
    )),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

/// The generated document with the rules that are data rather than types: the ISO 3166 codes
/// the profile accepts. Built once; the configured currencies are added per answer.
static BASE_DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    let countries: Vec<Value> = app::vault::profile::COUNTRIES
        .split_whitespace()
        .map(|code| Value::String(code.to_owned()))
        .collect();
    set_enum(&mut document, "Address", "country", countries);
    document_rate_limits(&mut document);
    document
});

/// Every operation of a rate-limited class (`crate::rate_limit::route_class`) may answer 429
/// `rate_limited` (and, screened, 403 `request_rejected`), and its successful answers carry
/// the `RateLimit-*` headers.
fn document_rate_limits(document: &mut Value) {
    let integer_header = |description: &str| serde_json::json!({"description": description, "schema": {"type": "integer", "minimum": 0}});
    let too_many = serde_json::json!({
        "description": "rate_limited",
        "headers": {
            "Retry-After": integer_header("Seconds to wait"),
            "RateLimit-Limit": integer_header("The burst allowed"),
            "RateLimit-Remaining": integer_header("Always 0 on a 429"),
            "RateLimit-Reset": integer_header("Seconds until a request is allowed again"),
        },
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    });
    let rejected = serde_json::json!({
        "description": "request_rejected (request screening) or forbidden",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    });
    let success_headers = serde_json::json!({
        "RateLimit-Limit": integer_header("The burst of this route class"),
        "RateLimit-Remaining": integer_header("Requests left in the burst"),
        "RateLimit-Reset": integer_header("Seconds until the burst is full again"),
    });
    let Some(Value::Object(paths)) = document.get_mut("paths") else {
        return;
    };
    for (path, operations) in paths.iter_mut() {
        let Value::Object(operations) = operations else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            let Ok(method) = http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            else {
                continue;
            };
            if crate::rate_limit::route_class("public", &method, path).is_none() {
                continue;
            }
            let Some(Value::Object(responses)) = operation.get_mut("responses") else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                if let (true, Value::Object(response)) = (status.starts_with('2'), response) {
                    let headers = response
                        .entry("headers")
                        .or_insert_with(|| Value::Object(serde_json::Map::new()));
                    if let (Value::Object(headers), Value::Object(extra)) =
                        (headers, &success_headers)
                    {
                        for (name, header) in extra {
                            headers.insert(name.clone(), header.clone());
                        }
                    }
                }
            }
            responses.entry("429").or_insert_with(|| too_many.clone());
            // Request screening in block mode (`protection.screening`).
            responses.entry("403").or_insert_with(|| rejected.clone());
        }
    }
}

/// JSON pointer of a property of a component schema.
fn property_pointer(schema: &str, property: &str) -> String {
    format!("/components/schemas/{schema}/properties/{property}")
}

fn set_enum(document: &mut Value, schema: &str, property: &str, values: Vec<Value>) {
    if let Some(Value::Object(property)) = document.pointer_mut(&property_pointer(schema, property))
    {
        property.insert("enum".to_owned(), Value::Array(values));
    }
}

/// The OpenAPI document this server answers with: the generated description, the ISO 3166
/// codes, `currencies` (`ledger.currencies`) as the enum of every currency a request names,
/// and the dates of birth accepted today.
pub fn document(currencies: &[String], date_of_birth_pattern: &str) -> Value {
    let mut document = BASE_DOCUMENT.clone();
    let currencies: Vec<Value> = currencies.iter().cloned().map(Value::String).collect();
    for schema in ["NewAccount", "NewTransfer"] {
        set_enum(&mut document, schema, "currency", currencies.clone());
    }
    if let Some(Value::Object(date_of_birth)) =
        document.pointer_mut(&property_pointer("ProfileInput", "date_of_birth"))
    {
        date_of_birth.insert(
            "pattern".to_owned(),
            Value::String(date_of_birth_pattern.to_owned()),
        );
    }
    document
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API",
        content_type = "application/json", body = Object), crate::problems::EdgeProblems))]
pub async fn openapi_json(State(state): State<AppState>) -> Response {
    let app = &state.app;
    let document = document(&app.ledger.currencies, &app.date_of_birth_pattern());
    let mut response = Json(document).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests;
