//! `ApiError`: the one error type handlers return, rendered as RFC 9457 problem+json. Edge
//! failures (a malformed body, a wrong media type, a foreign `Origin`) are its own variants;
//! everything a use case refuses arrives as `app::Error` and is mapped here, in one table
//! (`ApiError::describe`), to a status, a stable `code` (listed in docs/api.md) and a title.
//!
//! A handler's error becomes a response carrying a `Problem` extension and no body; the
//! `render_problems` middleware, which knows the request id, writes the body (and logs the
//! error once). Any other error response (axum's own 404/405/413, a caught panic) is turned
//! into a problem there too, so no error ever leaves the server in another shape.

use app::Error;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

pub use app::FieldError;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
const PROBLEM_TYPE_BASE: &str = "https://strongroom.dev/problems/";

/// Every way a request can fail, each with a stable `code` (docs/api.md).
#[derive(Debug, Clone)]
pub enum ApiError {
    /// Malformed JSON, wrong type, missing field, duplicate key, bad header or query.
    InvalidRequest {
        detail: String,
    },
    /// A field the request type does not have.
    UnknownField {
        field: String,
    },
    UnsupportedMediaType,
    PayloadTooLarge,
    /// No such route (axum's fallback).
    NoRoute,
    MethodNotAllowed,
    RequestTimeout,
    /// A cookie-authenticated call from an origin that is neither ours nor allowlisted.
    CsrfRejected,
    IdempotencyKeyRequired,
    /// `/` on a binary compiled before `web/dist` existed (the API works as usual).
    WebAppNotBuilt,
    /// What a use case refused or failed with.
    App(Error),
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        ApiError::App(error)
    }
}

impl From<store::StoreError> for ApiError {
    fn from(error: store::StoreError) -> ApiError {
        ApiError::App(Error::from(error))
    }
}

impl ApiError {
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            detail: detail.into(),
        }
    }

    pub const FORBIDDEN: ApiError = ApiError::App(Error::Forbidden);
    pub const INTERNAL: ApiError = ApiError::App(Error::Internal);
    pub const INVALID_TOKEN: ApiError = ApiError::App(Error::InvalidToken);
    pub const NOT_FOUND: ApiError = ApiError::App(Error::NotFound);

    /// The one table: status, stable code, title.
    fn describe(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            // A refusal replayed under its idempotency key answers as it did the first time.
            ApiError::App(Error::Replayed(first)) => ApiError::App((**first).clone()).describe(),
            ApiError::InvalidRequest { .. } => (
                S::BAD_REQUEST,
                "invalid_request",
                "The request is malformed",
            ),
            ApiError::UnknownField { .. } | ApiError::App(Error::UnknownMember { .. }) => (
                S::BAD_REQUEST,
                "unknown_field",
                "The request has a field this endpoint does not accept",
            ),
            ApiError::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Request bodies must be application/json",
            ),
            ApiError::WebAppNotBuilt => (
                S::SERVICE_UNAVAILABLE,
                "web_app_not_built",
                "The web app was not built into this binary",
            ),
            ApiError::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large",
            ),
            ApiError::NoRoute | ApiError::App(Error::NotFound) => {
                (S::NOT_FOUND, "not_found", "Not found")
            }
            ApiError::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed on this resource",
            ),
            ApiError::RequestTimeout => (
                S::SERVICE_UNAVAILABLE,
                "request_timeout",
                "The request took too long",
            ),
            ApiError::CsrfRejected => (S::FORBIDDEN, "csrf_rejected", "Cross-site request refused"),
            ApiError::IdempotencyKeyRequired => (
                S::BAD_REQUEST,
                "idempotency_key_required",
                "An Idempotency-Key header (1-255 visible ASCII) is required",
            ),
            ApiError::App(error) => match error {
                Error::InvalidInput { .. } => (
                    S::BAD_REQUEST,
                    "invalid_request",
                    "The request is malformed",
                ),
                Error::UnknownMember { .. } => (
                    S::BAD_REQUEST,
                    "unknown_field",
                    "The request has a field this endpoint does not accept",
                ),
                Error::NotFound => (S::NOT_FOUND, "not_found", "Not found"),
                Error::Validation { .. } => (
                    S::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "A field has an invalid value",
                ),
                Error::Forbidden | Error::MissingScope { .. } => {
                    (S::FORBIDDEN, "forbidden", "Forbidden")
                }
                Error::Unavailable { .. } => (
                    S::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "The service is temporarily unavailable",
                ),
                Error::Internal => (S::INTERNAL_SERVER_ERROR, "internal_error", "Internal error"),
                Error::WeakPassword { .. } => (
                    S::UNPROCESSABLE_ENTITY,
                    "weak_password",
                    "The password is too short, too long, or too easy to guess",
                ),
                Error::InvalidCredentials => (
                    S::UNAUTHORIZED,
                    "invalid_credentials",
                    "The email or password is wrong",
                ),
                Error::InvalidCode => (
                    S::UNAUTHORIZED,
                    "invalid_code",
                    "The code is wrong, expired or already used",
                ),
                Error::InvalidAssertion => (
                    S::UNAUTHORIZED,
                    "invalid_assertion",
                    "The passkey response did not verify",
                ),
                Error::InvalidToken => (
                    S::UNAUTHORIZED,
                    "invalid_token",
                    "The access token is missing, invalid, expired or revoked",
                ),
                Error::InvalidRefreshToken => (
                    S::UNAUTHORIZED,
                    "invalid_refresh_token",
                    "The refresh token is missing, invalid or expired",
                ),
                Error::RefreshTokenReused => (
                    S::UNAUTHORIZED,
                    "refresh_token_reused",
                    "The refresh token was already used; the session has been revoked",
                ),
                Error::KeyServiceUnavailable { .. } => (
                    S::SERVICE_UNAVAILABLE,
                    "key_service_unavailable",
                    "The key service is unavailable; try again later",
                ),
                Error::DataIntegrity => (
                    S::INTERNAL_SERVER_ERROR,
                    "data_integrity_error",
                    "Stored data failed an integrity check",
                ),
                Error::AccountExists => (
                    S::CONFLICT,
                    "account_exists",
                    "An account in this currency already exists",
                ),
                Error::IdempotencyKeyReused => (
                    S::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with a different request",
                ),
                Error::RequestInProgress => (
                    S::CONFLICT,
                    "request_in_progress",
                    "A request with this Idempotency-Key is still in progress",
                ),
                Error::InsufficientFunds => (
                    S::UNPROCESSABLE_ENTITY,
                    "insufficient_funds",
                    "Insufficient funds",
                ),
                Error::CurrencyMismatch => (
                    S::UNPROCESSABLE_ENTITY,
                    "currency_mismatch",
                    "The accounts and the transfer are not in one currency",
                ),
                Error::SameAccount => (
                    S::UNPROCESSABLE_ENTITY,
                    "same_account",
                    "Source and destination are the same account",
                ),
                Error::AccountFrozen => (
                    S::UNPROCESSABLE_ENTITY,
                    "account_frozen",
                    "The source account cannot send money",
                ),
                Error::StepUpRequired { .. } => (
                    S::UNAUTHORIZED,
                    "step_up_required",
                    "A fresh multi-factor authentication is required",
                ),
                Error::RateLimited { .. } => {
                    (S::TOO_MANY_REQUESTS, "rate_limited", "Too many requests")
                }
                Error::TooManyPasskeys => (
                    S::UNPROCESSABLE_ENTITY,
                    "too_many_passkeys",
                    "No more passkeys can be registered; remove one first",
                ),
                Error::FactorRequired => (
                    S::CONFLICT,
                    "factor_required",
                    "Your role requires a second factor: add another before removing this one",
                ),
                Error::AccountQuarantined => (
                    S::FORBIDDEN,
                    "account_quarantined",
                    "The account is on hold after suspicious activity; complete a second factor to lift it",
                ),
                Error::GeoBlocked => (
                    S::FORBIDDEN,
                    "geo_blocked",
                    "Requests from your country are not accepted",
                ),
                Error::RequestRejected => (
                    S::FORBIDDEN,
                    "request_rejected",
                    "The request was refused by request screening; quote the request id to support if it was legitimate",
                ),
                Error::SameApprover => (
                    S::FORBIDDEN,
                    "same_approver",
                    "A different admin must approve a request you made",
                ),
                Error::ApprovalClosed => (
                    S::CONFLICT,
                    "approval_closed",
                    "The approval is no longer pending",
                ),
                Error::InvalidResetToken => (
                    S::BAD_REQUEST,
                    "invalid_reset_token",
                    "The password-reset link is unknown, already used or expired",
                ),
                Error::InvalidVerificationToken => (
                    S::BAD_REQUEST,
                    "invalid_verification_token",
                    "The verification link is unknown, already used or expired",
                ),
                Error::EmailUnverified => (
                    S::FORBIDDEN,
                    "email_unverified",
                    "Verify your email address before money can leave your account",
                ),
                Error::MfaEnrollmentRequired => (
                    S::FORBIDDEN,
                    "mfa_enrollment_required",
                    "This action needs a second factor: add an authenticator app or a passkey first",
                ),
                Error::BalanceNotZero => (
                    S::CONFLICT,
                    "balance_not_zero",
                    "An account still holds money: move it out before closing",
                ),
                Error::DuplicateExternalRef { .. } => (
                    S::CONFLICT,
                    "duplicate_external_ref",
                    "A movement of this kind with this external reference was already posted",
                ),
                Error::HoldClosed { .. } => (
                    S::CONFLICT,
                    "hold_closed",
                    "The hold was already captured, voided or expired",
                ),
                Error::AlreadyReversed { .. } => (
                    S::CONFLICT,
                    "already_reversed",
                    "The transfer was already reversed",
                ),
                Error::NotReversible => (
                    S::CONFLICT,
                    "not_reversible",
                    "A reversal cannot be reversed",
                ),
                Error::ApprovalRequired => (
                    S::UNPROCESSABLE_ENTITY,
                    "approval_required",
                    "Money leaving for settlement above the four-eyes amount needs an approval",
                ),
                Error::CaptureExceedsHold => (
                    S::CONFLICT,
                    "capture_exceeds_hold",
                    "The capture is larger than the amount held",
                ),
                // Answered by the arm above; listed so that this table stays exhaustive.
                Error::Replayed(_) => {
                    (S::INTERNAL_SERVER_ERROR, "internal_error", "Internal error")
                }
                Error::BatchTooLarge { .. } => (
                    S::PAYLOAD_TOO_LARGE,
                    "batch_too_large",
                    "The batch holds more postings than one batch may",
                ),
                // The code is the refused posting's own (`insufficient_funds`, ...).
                Error::BatchRefused { code, .. } => (
                    S::UNPROCESSABLE_ENTITY,
                    code,
                    "A posting of the atomic batch was refused; nothing was posted",
                ),
            },
        }
    }

    pub fn status(&self) -> StatusCode {
        self.describe().0
    }

    pub fn code(&self) -> &'static str {
        self.describe().1
    }

    /// The problem document without `request_id` (added by `render_problems`).
    pub fn to_problem(&self) -> Problem {
        if let ApiError::App(Error::Replayed(first)) = self {
            return ApiError::App((**first).clone()).to_problem();
        }
        let (status, code, title) = self.describe();
        let (detail, errors) = self.detail_and_errors();
        let index = match self {
            ApiError::App(Error::BatchRefused { index, .. }) => Some(*index),
            _ => None,
        };
        let original_id = match self {
            ApiError::App(Error::DuplicateExternalRef { original_id }) => Some(original_id.clone()),
            _ => None,
        };
        Problem {
            problem_type: format!("{PROBLEM_TYPE_BASE}{code}"),
            title,
            status: status.as_u16(),
            code,
            detail,
            errors,
            index,
            original_id,
            reversal_id: match self {
                ApiError::App(Error::AlreadyReversed { reversal_id }) => Some(reversal_id.clone()),
                _ => None,
            },
            request_id: String::new(),
        }
    }

    /// The problem's `detail` and `errors`, where the error has them.
    fn detail_and_errors(&self) -> (Option<String>, Vec<FieldError>) {
        match self {
            ApiError::InvalidRequest { detail } | ApiError::App(Error::InvalidInput { detail }) => {
                (Some(detail.clone()), Vec::new())
            }
            ApiError::WebAppNotBuilt => (
                Some(
                    "Build it with `cargo xtask run` (or `npm ci && npm run build` in web/, then \
                     rebuild the binary). The API is served as usual."
                        .to_owned(),
                ),
                Vec::new(),
            ),
            ApiError::UnknownField { field }
            | ApiError::App(Error::UnknownMember { path: field }) => (
                Some(format!("Unknown field `{field}`.")),
                vec![FieldError {
                    field: field.clone(),
                    code: "unknown_field",
                }],
            ),
            ApiError::App(Error::Validation { errors }) => (None, errors.clone()),
            ApiError::App(Error::BatchTooLarge { max }) => (
                Some(format!("At most {max} postings per batch.")),
                Vec::new(),
            ),
            ApiError::App(Error::BatchRefused { index, code }) => (
                Some(format!(
                    "Posting {index} was refused ({code}); nothing was posted."
                )),
                Vec::new(),
            ),
            ApiError::App(Error::DuplicateExternalRef { original_id }) => (
                Some(format!(
                    "Transfer {original_id} was posted with this external reference; nothing moved."
                )),
                Vec::new(),
            ),
            ApiError::App(Error::AlreadyReversed { reversal_id }) => (
                Some(format!(
                    "Transfer {reversal_id} reversed it; nothing moved."
                )),
                Vec::new(),
            ),
            ApiError::App(Error::ApprovalRequired) => (
                Some("Void the hold and file a withdrawal, which an admin approves.".to_owned()),
                Vec::new(),
            ),
            ApiError::App(Error::HoldClosed { status }) => (
                Some(format!("The hold is {status}; nothing moved.")),
                Vec::new(),
            ),
            ApiError::App(Error::MissingScope { scope }) => (
                Some(format!("This service lacks the scope `{scope}`.")),
                Vec::new(),
            ),
            ApiError::App(Error::WeakPassword { field, rule }) => (
                None,
                vec![FieldError {
                    field: (*field).to_owned(),
                    code: rule,
                }],
            ),
            _ => (None, Vec::new()),
        }
    }

    /// The generic problem for an error status produced outside our handlers.
    pub fn for_status(status: StatusCode) -> ApiError {
        match status {
            StatusCode::NOT_FOUND => ApiError::NoRoute,
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            StatusCode::FORBIDDEN => ApiError::FORBIDDEN,
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
                ApiError::RequestTimeout
            }
            status if status.is_client_error() => {
                ApiError::invalid_request("The request could not be processed.")
            }
            _ => ApiError::INTERNAL,
        }
    }
}

/// RFC 9457 problem document, as sent on the wire.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: &'static str,
    pub status: u16,
    /// Stable machine-readable error code (the table in docs/api.md).
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<FieldErrorDoc>)]
    pub errors: Vec<FieldError>,
    /// The refused posting of an atomic batch (internal listener only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// `duplicate_external_ref`: the transfer first posted with the reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_id: Option<String>,
    /// `already_reversed`: the transfer that reversed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversal_id: Option<String>,
    pub request_id: String,
}

/// One field that failed validation (docs/api.md): `{"field": "amount", "code": "out_of_range"}`.
#[derive(utoipa::ToSchema)]
#[schema(as = FieldError)]
pub struct FieldErrorDoc {
    pub field: String,
    pub code: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::App(Error::Replayed(first)) = self {
            let mut response = ApiError::App(*first).into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return response;
        }
        let mut response = self.status().into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        let headers = response.headers_mut();
        match &self {
            ApiError::App(
                Error::Unavailable { retry_after_secs }
                | Error::KeyServiceUnavailable { retry_after_secs },
            ) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::App(Error::InvalidToken) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            ApiError::App(Error::StepUpRequired { max_age_secs }) => {
                let value = format!(
                    "Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\", max_age={max_age_secs}"
                );
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            ApiError::App(Error::RateLimited {
                retry_after_secs,
                limit,
            }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
                headers.insert("ratelimit-limit", HeaderValue::from(*limit));
                headers.insert("ratelimit-remaining", HeaderValue::from(0_u32));
                headers.insert("ratelimit-reset", HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response.extensions_mut().insert(self.to_problem());
        response
    }
}
