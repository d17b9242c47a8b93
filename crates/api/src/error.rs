//! `ApiError`: the one error type handlers return, rendered as RFC 9457 problem+json.
//!
//! A handler's error becomes a response carrying a `Problem` extension and no body; the
//! `render_problems` middleware, which knows the request id, writes the body. Any other error
//! response (axum's own 404/405/413, a caught panic) is turned into a problem there too, so no
//! error ever leaves the server in another shape.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
const PROBLEM_TYPE_BASE: &str = "https://strongroom.dev/problems/";

/// One field that failed validation, as in API.md: `{"field": "amount", "code": "out_of_range"}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
}

/// Every way a request can fail, each with a stable `code` from API.md.
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
    /// Well-formed but semantically invalid values.
    ValidationFailed {
        errors: Vec<FieldError>,
    },
    UnsupportedMediaType,
    PayloadTooLarge,
    NotFound,
    MethodNotAllowed,
    Forbidden,
    RequestTimeout,
    Internal,
    ServiceUnavailable {
        retry_after_secs: u32,
    },
    WeakPassword,
    InvalidCredentials,
    /// A TOTP or recovery code that is wrong, already used, or whose ticket is spent.
    InvalidCode,
    /// The KMS/HSM holding the KEK cannot be reached: personal data fails closed.
    KeyServiceUnavailable {
        retry_after_secs: u32,
    },
    /// A stored ciphertext or wrapped key failed authentication.
    DataIntegrity,
    AccountExists,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    RequestInProgress,
    InsufficientFunds,
    CurrencyMismatch,
    SameAccount,
    /// The source account is frozen or quarantined.
    AccountFrozen,
    /// A WebAuthn response that does not verify, or whose ceremony is unknown or spent.
    InvalidAssertion,
    /// Missing, malformed, expired, wrongly signed or revoked bearer token.
    InvalidToken,
    InvalidRefreshToken,
    RefreshTokenReused,
    CsrfRejected,
    /// Needs `acr=mfa` within `max_age_secs` (RFC 9470).
    StepUpRequired {
        max_age_secs: u64,
    },
    RateLimited {
        retry_after_secs: u64,
        limit: u32,
    },
    /// The user already has the most passkeys one user may register.
    TooManyPasskeys,
    /// Removing this factor would leave a user whose role requires MFA without any.
    FactorRequired,
}

impl ApiError {
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } | ApiError::UnknownField { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::ValidationFailed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Forbidden | ApiError::CsrfRejected => StatusCode::FORBIDDEN,
            ApiError::WeakPassword => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::InvalidCredentials
            | ApiError::InvalidCode
            | ApiError::InvalidAssertion
            | ApiError::InvalidToken
            | ApiError::InvalidRefreshToken
            | ApiError::RefreshTokenReused
            | ApiError::StepUpRequired { .. } => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RequestTimeout | ApiError::ServiceUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal | ApiError::DataIntegrity => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::AccountExists | ApiError::RequestInProgress | ApiError::FactorRequired => {
                StatusCode::CONFLICT
            }
            ApiError::TooManyPasskeys => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::IdempotencyKeyRequired => StatusCode::BAD_REQUEST,
            ApiError::IdempotencyKeyReused
            | ApiError::InsufficientFunds
            | ApiError::CurrencyMismatch
            | ApiError::SameAccount
            | ApiError::AccountFrozen => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::KeyServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest { .. } => "invalid_request",
            ApiError::UnknownField { .. } => "unknown_field",
            ApiError::ValidationFailed { .. } => "validation_failed",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Forbidden => "forbidden",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::Internal => "internal_error",
            ApiError::ServiceUnavailable { .. } => "service_unavailable",
            ApiError::WeakPassword => "weak_password",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::InvalidCode => "invalid_code",
            ApiError::AccountExists => "account_exists",
            ApiError::IdempotencyKeyRequired => "idempotency_key_required",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::RequestInProgress => "request_in_progress",
            ApiError::InsufficientFunds => "insufficient_funds",
            ApiError::CurrencyMismatch => "currency_mismatch",
            ApiError::SameAccount => "same_account",
            ApiError::AccountFrozen => "account_frozen",
            ApiError::KeyServiceUnavailable { .. } => "key_service_unavailable",
            ApiError::DataIntegrity => "data_integrity_error",
            ApiError::InvalidAssertion => "invalid_assertion",
            ApiError::InvalidToken => "invalid_token",
            ApiError::InvalidRefreshToken => "invalid_refresh_token",
            ApiError::RefreshTokenReused => "refresh_token_reused",
            ApiError::CsrfRejected => "csrf_rejected",
            ApiError::StepUpRequired { .. } => "step_up_required",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooManyPasskeys => "too_many_passkeys",
            ApiError::FactorRequired => "factor_required",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest { .. } => "The request is malformed",
            ApiError::UnknownField { .. } => {
                "The request has a field this endpoint does not accept"
            }
            ApiError::ValidationFailed { .. } => "A field has an invalid value",
            ApiError::UnsupportedMediaType => "Request bodies must be application/json",
            ApiError::PayloadTooLarge => "The request body is too large",
            ApiError::NotFound => "Not found",
            ApiError::MethodNotAllowed => "Method not allowed on this resource",
            ApiError::Forbidden => "Forbidden",
            ApiError::RequestTimeout => "The request took too long",
            ApiError::Internal => "Internal error",
            ApiError::ServiceUnavailable { .. } => "The service is temporarily unavailable",
            ApiError::WeakPassword => "The password is too short, too long, or too easy to guess",
            ApiError::InvalidCredentials => "The email or password is wrong",
            ApiError::InvalidCode => "The code is wrong, expired or already used",
            ApiError::AccountExists => "An account in this currency already exists",
            ApiError::IdempotencyKeyRequired => {
                "An Idempotency-Key header (1-255 visible ASCII) is required"
            }
            ApiError::IdempotencyKeyReused => {
                "This Idempotency-Key was used with a different request"
            }
            ApiError::RequestInProgress => {
                "A request with this Idempotency-Key is still in progress"
            }
            ApiError::InsufficientFunds => "Insufficient funds",
            ApiError::CurrencyMismatch => "The accounts and the transfer are not in one currency",
            ApiError::SameAccount => "Source and destination are the same account",
            ApiError::AccountFrozen => "The source account cannot send money",
            ApiError::KeyServiceUnavailable { .. } => {
                "The key service is unavailable; try again later"
            }
            ApiError::DataIntegrity => "Stored data failed an integrity check",
            ApiError::InvalidAssertion => "The passkey response did not verify",
            ApiError::InvalidToken => "The access token is missing, invalid, expired or revoked",
            ApiError::InvalidRefreshToken => "The refresh token is missing, invalid or expired",
            ApiError::RefreshTokenReused => {
                "The refresh token was already used; the session has been revoked"
            }
            ApiError::CsrfRejected => "Cross-site request refused",
            ApiError::StepUpRequired { .. } => "A fresh multi-factor authentication is required",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::TooManyPasskeys => "No more passkeys can be registered; remove one first",
            ApiError::FactorRequired => {
                "Your role requires a second factor: add another before removing this one"
            }
        }
    }

    /// The problem document without `request_id` (added by `render_problems`).
    pub fn to_problem(&self) -> Problem {
        let (detail, errors) = match self {
            ApiError::InvalidRequest { detail } => (Some(detail.clone()), Vec::new()),
            ApiError::UnknownField { field } => (
                Some(format!("Unknown field `{field}`.")),
                vec![FieldError {
                    field: field.clone(),
                    code: "unknown_field",
                }],
            ),
            ApiError::ValidationFailed { errors } => (None, errors.clone()),
            _ => (None, Vec::new()),
        };
        let status = self.status();
        Problem {
            problem_type: format!("{PROBLEM_TYPE_BASE}{}", self.code()),
            title: self.title(),
            status: status.as_u16(),
            code: self.code(),
            detail,
            errors,
            request_id: String::new(),
        }
    }

    /// The generic problem for an error status produced outside our handlers.
    pub fn for_status(status: StatusCode) -> ApiError {
        match status {
            StatusCode::NOT_FOUND => ApiError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            StatusCode::FORBIDDEN => ApiError::Forbidden,
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
                ApiError::RequestTimeout
            }
            status if status.is_client_error() => {
                ApiError::invalid_request("The request could not be processed.")
            }
            _ => ApiError::Internal,
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
    /// Stable machine-readable error code (see API.md).
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    pub request_id: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        let headers = response.headers_mut();
        match &self {
            ApiError::ServiceUnavailable { retry_after_secs }
            | ApiError::KeyServiceUnavailable { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            ApiError::StepUpRequired { max_age_secs } => {
                let value = format!(
                    "Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\", max_age={max_age_secs}"
                );
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            ApiError::RateLimited {
                retry_after_secs,
                limit,
            } => {
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

impl From<store::StoreError> for ApiError {
    /// Storage failures are logged here, where their cause is known, and answered with a bare
    /// 500 — or 503 when the database cannot be reached — that names nothing internal.
    fn from(error: store::StoreError) -> ApiError {
        tracing::error!(error = %error, "store error");
        if error.is_unavailable() {
            ApiError::ServiceUnavailable {
                retry_after_secs: 1,
            }
        } else {
            ApiError::Internal
        }
    }
}
