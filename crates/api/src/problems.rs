//! The problem responses endpoints share, as `utoipa::IntoResponses` types, so each handler's
//! OpenAPI annotation lists its success and names these instead of repeating them.
//! Every problem body is `Problem` (`application/problem+json`); the codes are listed in
//! `docs/api.md` and come from the one table in `error.rs`.

use utoipa::IntoResponses;

use crate::error::Problem;

/// A JSON body was sent: what its checks can answer.
#[derive(IntoResponses)]
pub enum BodyProblems {
    #[response(
        status = 400,
        description = "invalid_request (malformed JSON, wrong type, missing field) or unknown_field",
        content_type = "application/problem+json"
    )]
    Malformed(Problem),
    #[response(
        status = 413,
        description = "payload_too_large",
        content_type = "application/problem+json"
    )]
    TooLarge(Problem),
    #[response(
        status = 415,
        description = "unsupported_media_type: bodies must be application/json",
        content_type = "application/problem+json"
    )]
    NotJson(Problem),
}

/// A bearer token is required: what the token and step-up checks can answer.
#[derive(IntoResponses)]
pub enum BearerProblems {
    #[response(
        status = 401,
        description = "invalid_token, or step_up_required (RFC 9470) where the action needs a fresh second factor",
        content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_token\"`, or `Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\", max_age=N` for a step-up"))
    )]
    Unauthorized(Problem),
    #[response(
        status = 403,
        description = "account_quarantined: account protection put the account on hold; only the step-up endpoints and GET /v1/me answer until a second factor is completed; mfa_enrollment_required where a step-up is needed and the user has no second factor to step up with; email_unverified where money would leave the account of an unverified email (auth.require_verified_email)",
        content_type = "application/problem+json"
    )]
    Quarantined(Problem),
}

/// A signed-in user's call that account protection may hold (for operations that document
/// their own 401s instead of `BearerProblems`).
#[derive(IntoResponses)]
pub enum QuarantinedProblem {
    #[response(
        status = 403,
        description = "account_quarantined: account protection put the account on hold; complete a second factor (step-up) to lift it",
        content_type = "application/problem+json"
    )]
    Quarantined(Problem),
}

/// Query parameters were read.
#[derive(IntoResponses)]
pub enum QueryProblems {
    #[response(
        status = 400,
        description = "invalid_request: unknown or malformed parameter, or a cursor that is not yours",
        content_type = "application/problem+json"
    )]
    Malformed(Problem),
    #[response(
        status = 422,
        description = "validation_failed: limit out_of_range",
        content_type = "application/problem+json"
    )]
    OutOfRange(Problem),
}

/// The object may not exist, or may not be the caller's (never revealed which).
#[derive(IntoResponses)]
pub enum NotFoundProblem {
    #[response(
        status = 404,
        description = "not_found",
        content_type = "application/problem+json"
    )]
    NotFound(Problem),
}

/// Throttled endpoints.
#[derive(IntoResponses)]
pub enum RateLimitedProblem {
    #[response(
        status = 429,
        description = "rate_limited",
        content_type = "application/problem+json",
        headers(
            ("Retry-After" = u32, description = "Seconds to wait"),
            ("RateLimit-Limit" = u32, description = "The burst allowed"),
            ("RateLimit-Remaining" = u32, description = "Always 0 on a 429"),
            ("RateLimit-Reset" = u32, description = "Seconds until a request is allowed again"),
        )
    )]
    TooMany(Problem),
}

/// Endpoints that need the Argon2 pool, the key service or the ledger writer.
#[derive(IntoResponses)]
pub enum UnavailableProblem {
    #[response(
        status = 503,
        description = "service_unavailable (Argon2 pool full, ledger writer busy, store down), key_service_unavailable, or request_timeout",
        content_type = "application/problem+json",
        headers(("Retry-After" = u32, description = "Seconds to wait (not on request_timeout)"))
    )]
    Unavailable(Problem),
}

/// Cookie-authenticated endpoints.
#[derive(IntoResponses)]
pub enum CsrfProblem {
    #[response(
        status = 403,
        description = "csrf_rejected: a foreign Origin",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
}

/// Personal data that fails its integrity check.
#[derive(IntoResponses)]
pub enum IntegrityProblem {
    #[response(
        status = 500,
        description = "data_integrity_error",
        content_type = "application/problem+json"
    )]
    Integrity(Problem),
}

/// What any endpoint can answer whatever its input: a bug or a handler that ran too long.
#[derive(IntoResponses)]
pub enum EdgeProblems {
    #[response(
        status = 500,
        description = "internal_error: an unexpected failure (logged with its cause; the body carries no detail)",
        content_type = "application/problem+json"
    )]
    Internal(Problem),
    #[response(
        status = 503,
        description = "request_timeout: the request took longer than 30 seconds",
        content_type = "application/problem+json"
    )]
    Timeout(Problem),
}

/// `/v1/admin/*`: the role and step-up checks every admin call passes.
#[derive(IntoResponses)]
pub enum AdminProblems {
    #[response(
        status = 401,
        description = "invalid_token, or step_up_required: admin calls need acr=mfa within auth.step_up_max_age_secs (RFC 9470)",
        content_type = "application/problem+json",
        headers(("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_token\"`, or `Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\", max_age=N`"))
    )]
    Unauthorized(Problem),
    #[response(
        status = 403,
        description = "forbidden: the caller lacks the role; account_quarantined: the caller's own account is on hold",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
}

/// Deciding a four-eyes approval.
#[derive(IntoResponses)]
pub enum ApprovalProblems {
    #[response(
        status = 403,
        description = "same_approver: the approval was requested by the caller; forbidden: the caller lacks the role",
        content_type = "application/problem+json"
    )]
    SameApprover(Problem),
    #[response(
        status = 409,
        description = "approval_closed: the approval is no longer pending (decided, expired, or its target changed)",
        content_type = "application/problem+json"
    )]
    Closed(Problem),
}
