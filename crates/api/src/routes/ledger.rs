//! Accounts and transfers (customer API) and deposits/withdrawals (internal API). Every
//! money-moving POST needs an `Idempotency-Key`; the handlers validate the request's shape and
//! hand the posting to the single ledger writer (`store::LedgerWriter`), which checks the key,
//! the accounts and the balance and commits it in a group-committed batch.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use ledger::{Currency, Money, PostingKind, Refusal};
use serde::{Deserialize, Serialize};
use store::{
    AccountRecord, IdempotencyRecord, PostingOutcome, PostingRequest, TransferRecord, WriteError,
};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, new_id, now_ms, rfc3339};
use crate::error::{ApiError, FieldError, Problem};
use crate::json::ApiJson;
use crate::principal::Service;
use crate::state::AppState;

/// `Idempotency-Key`: 1–255 visible ASCII characters (API.md).
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;
pub const MEMO_CHARS_MAX: usize = 140;
pub const EXTERNAL_REF_CHARS_MAX: usize = 128;
const ID_CHARS_MAX: usize = 64;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// ISO 4217, one of the configured currencies.
    pub currency: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub currency: String,
    /// Minor units.
    pub balance: i64,
    pub status: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub items: Vec<AccountView>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub id: String,
    pub transfer_id: String,
    pub amount: i64,
    /// `debit` or `credit`.
    pub direction: String,
    pub balance_after: i64,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct EntryList {
    pub items: Vec<EntryView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTransfer {
    pub from_account_id: String,
    pub to_account_id: String,
    /// Minor units, 1 to 10^15.
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub memo: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Movement {
    pub account_id: String,
    /// Minor units, 1 to 10^15.
    pub amount: i64,
    pub currency: String,
    pub external_ref: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TransferView {
    pub id: String,
    /// Always `posted`: transfers are immutable once written.
    pub status: String,
    pub from_account_id: String,
    pub to_account_id: String,
    pub amount: i64,
    pub currency: String,
    pub memo: Option<String>,
    pub created_at: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    /// 1–200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn account_view(account: AccountRecord) -> AccountView {
    AccountView {
        created_at: rfc3339(account.created_at),
        id: account.id,
        currency: account.currency,
        balance: account.balance,
        status: account.status,
    }
}

fn transfer_view(transfer: &TransferRecord) -> TransferView {
    TransferView {
        id: transfer.id.clone(),
        status: "posted".to_owned(),
        from_account_id: transfer.from_account_id.clone(),
        to_account_id: transfer.to_account_id.clone(),
        amount: transfer.amount,
        currency: transfer.currency.clone(),
        memo: transfer.memo.clone(),
        created_at: rfc3339(transfer.created_at),
    }
}

fn field_error(field: &str, code: &'static str) -> ApiError {
    ApiError::ValidationFailed {
        errors: vec![FieldError {
            field: field.to_owned(),
            code,
        }],
    }
}

fn currency(state: &AppState, code: &str) -> Result<Currency, ApiError> {
    Currency::parse(code, &state.ledger.currencies)
        .map_err(|_| field_error("currency", "unsupported_currency"))
}

fn amount(value: i64) -> Result<Money, ApiError> {
    Money::new(value).map_err(|_| field_error("amount", "out_of_range"))
}

/// The caller's own account, or 404 (never reveal that someone else's exists).
async fn owned_account(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<AccountRecord, ApiError> {
    if id.len() > ID_CHARS_MAX {
        return Err(ApiError::NotFound);
    }
    let account = state
        .store
        .find_account(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if account.user_id.as_deref() == Some(caller.user_id.as_str()) {
        Ok(account)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Open an account in a configured currency (one per currency per user).
#[utoipa::path(post, path = "/v1/accounts", tag = "ledger", security(("bearer" = [])), request_body = NewAccount,
    responses(
        (status = 201, description = "Opened", body = AccountView),
        (status = 400, description = "Malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 409, description = "account_exists", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "unsupported currency", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let currency = currency(&state, &body.currency)?;
    let account = AccountRecord {
        id: new_id(),
        user_id: Some(caller.user_id.clone()),
        kind: "customer".to_owned(),
        currency: currency.as_str().to_owned(),
        balance: 0,
        status: "active".to_owned(),
        created_at: now_ms(),
    };
    if !state.store.create_account(&account).await? {
        return Err(ApiError::AccountExists);
    }
    Ok((StatusCode::CREATED, Json(account_view(account))))
}

/// The caller's accounts, by currency.
#[utoipa::path(get, path = "/v1/accounts", tag = "ledger", security(("bearer" = [])), params(crate::routes::me::PageQuery),
    responses(
        (status = 200, description = "Accounts", body = AccountList),
        (status = 400, description = "Malformed or foreign cursor, unknown parameter", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "limit out of range", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<crate::routes::me::PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AccountList>, ApiError> {
    let page = crate::routes::me::Page::from_query(query)?;
    // A cursor is the id of one of the caller's accounts; anything else is refused.
    let after_currency = match &page.cursor {
        None => None,
        Some(cursor) => Some(
            state
                .store
                .find_account(cursor)
                .await?
                .filter(|account| account.user_id.as_deref() == Some(caller.user_id.as_str()))
                .ok_or_else(|| ApiError::invalid_request("Unknown cursor."))?
                .currency,
        ),
    };
    let accounts = state
        .store
        .list_accounts(
            &caller.user_id,
            after_currency.as_deref(),
            page.limit.saturating_add(1),
        )
        .await?;
    let (accounts, more) = page.split(accounts);
    let next_cursor = more
        .then(|| accounts.last().map(|account| account.id.clone()))
        .flatten();
    let items = accounts.into_iter().map(account_view).collect();
    Ok(Json(AccountList { items, next_cursor }))
}

/// One of the caller's accounts.
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "ledger", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "Not yours or unknown", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(account_view(
        owned_account(&state, &caller, &id).await?,
    )))
}

/// An account's entries, oldest first, with the balance after each.
#[utoipa::path(get, path = "/v1/accounts/{id}/entries", tag = "ledger", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id"), EntriesQuery),
    responses(
        (status = 200, description = "One page of entries", body = EntryList),
        (status = 400, description = "Malformed query", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "Not yours or unknown", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "limit out of range", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn account_entries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<EntriesQuery>, QueryRejection>,
) -> Result<Json<EntryList>, ApiError> {
    let Query(query) =
        query.map_err(|_| ApiError::invalid_request("Unknown or malformed query parameter."))?;
    let account = owned_account(&state, &caller, &id).await?;
    let limit = query.limit.unwrap_or(crate::routes::me::PAGE_LEN_DEFAULT);
    if !(1..=crate::routes::me::PAGE_LEN_MAX).contains(&limit) {
        return Err(field_error("limit", "out_of_range"));
    }
    let after: i64 = match &query.cursor {
        None => 0,
        Some(cursor) => cursor
            .parse()
            .ok()
            .filter(|seq: &i64| *seq >= 0)
            .ok_or_else(|| ApiError::invalid_request("Malformed cursor."))?,
    };
    let entries = state
        .store
        .account_entries(&account.id, after, limit.saturating_add(1))
        .await?;
    let has_more = i64::try_from(entries.len()).unwrap_or(i64::MAX) > limit;
    let page: Vec<_> = entries
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .collect();
    let next_cursor = if has_more {
        page.last().map(|entry| entry.seq.to_string())
    } else {
        None
    };
    let items = page
        .into_iter()
        .map(|entry| EntryView {
            id: entry.id,
            transfer_id: entry.transfer_id,
            amount: entry.amount,
            direction: entry.direction,
            balance_after: entry.balance_after,
            created_at: rfc3339(entry.created_at),
        })
        .collect();
    Ok(Json(EntryList { items, next_cursor }))
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::IdempotencyKeyRequired)?;
    let valid = !value.is_empty()
        && value.len() <= IDEMPOTENCY_KEY_CHARS_MAX
        && value.bytes().all(|byte| byte.is_ascii_graphic());
    if valid {
        Ok(value.to_owned())
    } else {
        Err(ApiError::IdempotencyKeyRequired)
    }
}

fn request_hash(path: &str, body: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    let canonical = serde_json::to_vec(body).map_err(|_| ApiError::Internal)?;
    let mut bytes = path.as_bytes().to_vec();
    bytes.push(0);
    bytes.extend(canonical);
    Ok(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes)
            .as_ref()
            .to_vec(),
    )
}

fn replay(status: i32, body: String) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// A validated money movement, ready for the ledger writer.
struct Posting {
    kind: PostingKind,
    from: String,
    to: String,
    amount: Money,
    currency: Currency,
    memo: Option<String>,
    external_ref: Option<String>,
    initiated_by: String,
    source_owner: Option<String>,
}

/// Hands the posting and its idempotency key to the ledger writer, which checks the key,
/// the accounts and the balance, and commits the posting with the key in one transaction.
async fn post_idempotently(
    state: &AppState,
    scope: String,
    key: String,
    request_hash: Vec<u8>,
    posting: Posting,
) -> Result<Response, ApiError> {
    let created_at = now_ms();
    let view = TransferView {
        id: new_id(),
        status: "posted".to_owned(),
        from_account_id: posting.from,
        to_account_id: posting.to,
        amount: posting.amount.minor_units(),
        currency: posting.currency.as_str().to_owned(),
        memo: posting.memo,
        created_at: rfc3339(created_at),
    };
    let response_body = serde_json::to_string(&view).map_err(|_| ApiError::Internal)?;
    let request = PostingRequest {
        kind: posting.kind,
        transfer_id: view.id.clone(),
        debit_entry_id: new_id(),
        credit_entry_id: new_id(),
        from_account_id: view.from_account_id.clone(),
        to_account_id: view.to_account_id.clone(),
        amount: posting.amount,
        currency: view.currency.clone(),
        memo: view.memo.clone(),
        external_ref: posting.external_ref,
        initiated_by: posting.initiated_by,
        source_owner: posting.source_owner,
        created_at,
        idempotency: IdempotencyRecord {
            scope,
            key,
            request_hash,
            response_body,
        },
    };
    let outcome = state
        .writer
        .post(request)
        .await
        .map_err(|error| match error {
            WriteError::Busy | WriteError::Unavailable => ApiError::ServiceUnavailable {
                retry_after_secs: 1,
            },
            WriteError::Failed => ApiError::Internal,
        })?;
    match outcome {
        PostingOutcome::Posted => {
            metrics::counter!("strongroom_transfers_posted_total", "kind" => posting.kind.as_str())
                .increment(1);
            Ok((StatusCode::CREATED, Json(view)).into_response())
        }
        PostingOutcome::Replayed { status, body } => Ok(replay(status, body)),
        PostingOutcome::KeyReused => Err(ApiError::IdempotencyKeyReused),
        PostingOutcome::KeyInProgress => Err(ApiError::RequestInProgress),
        PostingOutcome::Refused(refusal) => Err(match refusal {
            Refusal::AccountNotFound => ApiError::NotFound,
            Refusal::SameAccount => ApiError::SameAccount,
            Refusal::CurrencyMismatch => ApiError::CurrencyMismatch,
            Refusal::AccountNotActive => ApiError::AccountFrozen,
            Refusal::InsufficientFunds => ApiError::InsufficientFunds,
            Refusal::BalanceLimit => field_error("amount", "balance_limit"),
        }),
    }
}

/// Move money between two accounts; the source must be the caller's.
#[utoipa::path(post, path = "/v1/transfers", tag = "ledger", security(("bearer" = [])), request_body = NewTransfer,
    params(("Idempotency-Key" = String, Header, description = "1–255 visible ASCII characters")),
    responses(
        (status = 201, description = "Posted (or the original answer, replayed)", body = TransferView),
        (status = 400, description = "idempotency_key_required or malformed body", content_type = "application/problem+json", body = Problem),
        (status = 401, description = "invalid_token or step_up_required", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "Source not yours, or destination unknown", content_type = "application/problem+json", body = Problem),
        (status = 409, description = "request_in_progress", content_type = "application/problem+json", body = Problem),
        (status = 415, description = "Not JSON", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "insufficient_funds, currency_mismatch, same_account, idempotency_key_reused, validation_failed", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn create_transfer(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewTransfer>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let amount = amount(body.amount)?;
    let currency = currency(&state, &body.currency)?;
    if body.memo.as_ref().is_some_and(|memo| {
        memo.chars().count() > MEMO_CHARS_MAX || memo.chars().any(char::is_control)
    }) {
        return Err(field_error("memo", "invalid"));
    }
    if body.from_account_id == body.to_account_id {
        return Err(ApiError::SameAccount);
    }
    if body.from_account_id.len() > ID_CHARS_MAX || body.to_account_id.len() > ID_CHARS_MAX {
        return Err(ApiError::NotFound);
    }
    // Ownership, existence, kinds and currencies are checked by the ledger writer, against
    // the same account states it posts on.
    if amount.minor_units() > state.ledger.step_up_amount {
        caller.require_mfa(state.auth.settings.step_up_max_age_secs)?;
    }
    let hash = request_hash("/v1/transfers", &body)?;
    let posting = Posting {
        kind: PostingKind::Transfer,
        from: body.from_account_id,
        to: body.to_account_id,
        amount,
        currency,
        memo: body.memo,
        external_ref: None,
        initiated_by: format!("user:{}", caller.user_id),
        source_owner: Some(caller.user_id.clone()),
    };
    post_idempotently(
        &state,
        format!("user:{}", caller.user_id),
        key,
        hash,
        posting,
    )
    .await
}

/// A transfer the caller is a party to.
#[utoipa::path(get, path = "/v1/transfers/{id}", tag = "ledger", security(("bearer" = [])),
    params(("id" = String, Path, description = "Transfer id")),
    responses(
        (status = 200, description = "The transfer", body = TransferView),
        (status = 401, description = "invalid_token", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "Not a party, or unknown", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn get_transfer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TransferView>, ApiError> {
    if id.len() > ID_CHARS_MAX {
        return Err(ApiError::NotFound);
    }
    let transfer = state
        .store
        .find_transfer(&id)
        .await?
        .ok_or(ApiError::NotFound)?;
    for account_id in [&transfer.from_account_id, &transfer.to_account_id] {
        let account = state.store.find_account(account_id).await?;
        if account
            .is_some_and(|account| account.user_id.as_deref() == Some(caller.user_id.as_str()))
        {
            return Ok(Json(transfer_view(&transfer)));
        }
    }
    Err(ApiError::NotFound)
}

async fn movement(
    state: &AppState,
    service: &Service,
    headers: &HeaderMap,
    body: Movement,
    deposit: bool,
) -> Result<Response, ApiError> {
    service.require_scope(if deposit {
        "ledger:deposit"
    } else {
        "ledger:withdraw"
    })?;
    let key = idempotency_key(headers)?;
    let amount = amount(body.amount)?;
    let currency = currency(state, &body.currency)?;
    let path = if deposit {
        "/internal/v1/deposits"
    } else {
        "/internal/v1/withdrawals"
    };
    if body.external_ref.is_empty() || body.external_ref.chars().count() > EXTERNAL_REF_CHARS_MAX {
        return Err(field_error("external_ref", "length"));
    }
    if body.account_id.len() > ID_CHARS_MAX {
        return Err(ApiError::NotFound);
    }
    let settlement = format!("settlement-{}", currency.as_str());
    let hash = request_hash(path, &body)?;
    let (from, to) = if deposit {
        (settlement, body.account_id)
    } else {
        (body.account_id, settlement)
    };
    let posting = Posting {
        kind: if deposit {
            PostingKind::Deposit
        } else {
            PostingKind::Withdrawal
        },
        from,
        to,
        amount,
        currency,
        memo: None,
        external_ref: Some(body.external_ref),
        initiated_by: format!("service:{}", service.0.name),
        source_owner: None,
    };
    post_idempotently(
        state,
        format!("service:{}", service.0.name),
        key,
        hash,
        posting,
    )
    .await
}

/// Credit a customer account from the operator's settlement account (scope `ledger:deposit`).
pub async fn deposit(
    State(state): State<AppState>,
    service: Service,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Movement>,
) -> Result<Response, ApiError> {
    movement(&state, &service, &headers, body, true).await
}

/// Debit a customer account to the settlement account (scope `ledger:withdraw`).
pub async fn withdraw(
    State(state): State<AppState>,
    service: Service,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Movement>,
) -> Result<Response, ApiError> {
    movement(&state, &service, &headers, body, false).await
}

/// Any customer account (scope `ledger:read`).
pub async fn internal_account(
    State(state): State<AppState>,
    service: Service,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    service.require_scope("ledger:read")?;
    if id.len() > ID_CHARS_MAX {
        return Err(ApiError::NotFound);
    }
    let account = state
        .store
        .find_account(&id)
        .await?
        .filter(|account| account.kind == "customer")
        .ok_or(ApiError::NotFound)?;
    Ok(Json(account_view(account)))
}

async fn set_active(
    state: &AppState,
    service: &Service,
    id: &str,
    active: bool,
) -> Result<Json<AccountView>, ApiError> {
    service.require_scope("ledger:freeze")?;
    if id.len() > ID_CHARS_MAX || !state.store.set_account_active(id, active).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(
        account = id,
        service = %service.0.name,
        active,
        "ledger account status changed"
    );
    let account = state
        .store
        .find_account(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(account_view(account)))
}

/// Freeze a customer account (scope `ledger:freeze`): it can still receive, but not send.
pub async fn freeze_account(
    State(state): State<AppState>,
    service: Service,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    set_active(&state, &service, &id, false).await
}

/// Lift a freeze (scope `ledger:freeze`).
pub async fn unfreeze_account(
    State(state): State<AppState>,
    service: Service,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    set_active(&state, &service, &id, true).await
}
