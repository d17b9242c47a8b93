//! `app::Error`: why a use case refused or failed, in the application's terms. The HTTP edge
//! maps each variant to a status and a stable problem code in one table (`api::error`).

/// A field that failed validation and why (`code` is stable, e.g. `out_of_range`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the request is malformed: {detail}")]
    InvalidInput { detail: String },
    /// A member of a client-built object (e.g. a WebAuthn credential) that the contract does
    /// not know, by its path.
    #[error("unknown member {path}")]
    UnknownMember { path: String },
    #[error("fields are invalid")]
    Validation { errors: Vec<FieldError> },
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// A service without the scope an internal endpoint needs (403 `forbidden`, naming it).
    #[error("the service lacks the scope {scope}")]
    MissingScope { scope: &'static str },
    #[error("temporarily unavailable")]
    Unavailable { retry_after_secs: u32 },
    #[error("internal error")]
    Internal,
    /// `rule`: `too_short`, `too_long` or `too_common` (common, breached-like or built from
    /// the user's own details).
    #[error("the password is too weak ({rule})")]
    WeakPassword {
        field: &'static str,
        rule: &'static str,
    },
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("wrong, expired or used code")]
    InvalidCode,
    #[error("the passkey response did not verify")]
    InvalidAssertion,
    #[error("the access token is invalid")]
    InvalidToken,
    #[error("the refresh token is invalid")]
    InvalidRefreshToken,
    #[error("the refresh token was reused")]
    RefreshTokenReused,
    #[error("the key service is unavailable")]
    KeyServiceUnavailable { retry_after_secs: u32 },
    #[error("stored data failed an integrity check")]
    DataIntegrity,
    #[error("an account in this currency exists")]
    AccountExists,
    #[error("the idempotency key was used with another request")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is in progress")]
    RequestInProgress,
    #[error("insufficient funds")]
    InsufficientFunds,
    #[error("currencies differ")]
    CurrencyMismatch,
    #[error("source and destination are the same account")]
    SameAccount,
    #[error("the source account cannot send")]
    AccountFrozen,
    #[error("a fresh multi-factor authentication is required")]
    StepUpRequired { max_age_secs: u64 },
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64, limit: u32 },
    #[error("no more passkeys may be registered")]
    TooManyPasskeys,
    #[error("a role requires a second factor")]
    FactorRequired,
    #[error("the account is quarantined until a second factor is completed")]
    AccountQuarantined,
    #[error("requests from this country are refused")]
    GeoBlocked,
    #[error("the request matched a screening rule")]
    RequestRejected,
    #[error("the approval was requested by the same admin")]
    SameApprover,
    #[error("the approval is no longer pending")]
    ApprovalClosed,
    #[error("the password-reset token is unknown, used or expired")]
    InvalidResetToken,
    #[error("the verification token is unknown, used or expired")]
    InvalidVerificationToken,
    #[error("the email address is not verified")]
    EmailUnverified,
    #[error("a step-up is required but the user has no second factor")]
    MfaEnrollmentRequired,
    #[error("an account still holds money")]
    BalanceNotZero,
    /// A service batch with more postings than a batch may hold.
    #[error("the batch holds more than {max} postings")]
    BatchTooLarge { max: usize },
    /// The caller posted a movement of this kind with this external reference before.
    #[error("the external reference was posted before, as {original_id}")]
    DuplicateExternalRef { original_id: String },
    /// The transfer was reversed before, by `reversal_id`.
    #[error("the transfer was reversed before, by {reversal_id}")]
    AlreadyReversed { reversal_id: String },
    /// A reversal itself cannot be reversed (post a new movement instead).
    #[error("a reversal cannot be reversed")]
    NotReversible,
    /// The hold is no longer held (`captured`, `voided` or `expired`).
    #[error("the hold is {status}")]
    HoldClosed { status: &'static str },
    /// Money leaving for settlement above `ledger.four_eyes_amount` outside a four-eyes
    /// approval (a hold's capture): void it and file a withdrawal instead.
    #[error("the movement needs a four-eyes approval")]
    ApprovalRequired,
    /// A capture above the amount its hold reserved.
    #[error("the capture exceeds its hold")]
    CaptureExceedsHold,
    /// A request replayed under its idempotency key whose first answer was this refusal.
    #[error("replayed refusal: {0}")]
    Replayed(Box<Error>),
    /// An atomic batch with a refused posting: nothing was posted.
    #[error("posting {index} of an atomic batch was refused ({code})")]
    BatchRefused { index: usize, code: &'static str },
}

impl Error {
    pub fn invalid_input(detail: impl Into<String>) -> Error {
        Error::InvalidInput {
            detail: detail.into(),
        }
    }

    /// One field failed validation.
    pub fn field(field: &str, code: &'static str) -> Error {
        Error::Validation {
            errors: vec![FieldError {
                field: field.to_owned(),
                code,
            }],
        }
    }
}

impl From<store::StoreError> for Error {
    /// Storage failures are logged here, where their cause is known, and become a bare
    /// internal error — or "unavailable" when the database cannot be reached.
    fn from(error: store::StoreError) -> Error {
        tracing::error!(error = %error, "store error");
        if error.is_unavailable() {
            Error::Unavailable {
                retry_after_secs: 1,
            }
        } else {
            Error::Internal
        }
    }
}

/// An unexpected failure whose cause is logged once, here, and never shown to the client.
pub fn internal(context: &'static str, cause: impl std::fmt::Display) -> Error {
    tracing::error!(%cause, "{context}");
    Error::Internal
}

pub type Result<T> = std::result::Result<T, Error>;
