//! Accounts and transfers (customer API) and deposits, withdrawals, account reads and freezes
//! (internal API). Money-moving POSTs need an `Idempotency-Key`; a replay answers the original
//! body with `Idempotent-Replayed: true`.

use app::ledger::history::{HistoryRequest, TransferListRequest};
use app::ledger::operator::OperatorAccount;
use app::ledger::{IdempotencyKey, Movement as MovementKind, Posted};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::context::{ServiceCtx, UserCtx};
use crate::dto::{
    AccountList, AccountView, CurrencyView, EntriesQuery, EntryList, Movement, NewAccount,
    NewTransfer, PageQuery, TransferList, TransferView, TransfersQuery,
};
use crate::error::{ApiError, Problem};
use crate::json::ApiJson;
use crate::problems::{
    BearerProblems, BodyProblems, NotFoundProblem, QueryProblems, UnavailableProblem,
};
use crate::state::AppState;

fn idempotency_key(headers: &HeaderMap) -> Result<IdempotencyKey, ApiError> {
    headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .and_then(IdempotencyKey::parse)
        .ok_or(ApiError::IdempotencyKeyRequired)
}

/// 201 with the receipt, or the original answer replayed.
pub(crate) fn posted(outcome: Posted) -> Response {
    let body = match outcome {
        Posted::New(receipt) => return (StatusCode::CREATED, Json(receipt)).into_response(),
        Posted::Replayed(body) => body,
        Posted::PendingApproval {
            approval_id,
            status,
        } => {
            return (
                StatusCode::ACCEPTED,
                Json(crate::dto::PendingApproval {
                    approval_id,
                    status,
                }),
            )
                .into_response();
        }
    };
    replayed(body)
}

/// 201 with a body stored with its idempotency key, marked `Idempotent-Replayed: true`.
pub(crate) fn replayed(body: String) -> Response {
    let mut response = (StatusCode::CREATED, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// The currencies accounts can be opened in, with their minor units. Open to anyone: it
/// reveals only configuration the web app and clients need to read and write amounts.
#[utoipa::path(get, path = "/v1/currencies", tag = "ledger",
    responses(
        (status = 200, description = "The configured currencies, in configuration order", body = Vec<CurrencyView>),
        crate::problems::EdgeProblems,
    ))]
pub async fn currencies(State(state): State<AppState>) -> Json<Vec<CurrencyView>> {
    Json(state.app.currencies().into_iter().map(Into::into).collect())
}

/// Open an account in a configured currency (one per currency per user).
#[utoipa::path(post, path = "/v1/accounts", tag = "ledger", security(("bearer" = [])), request_body = NewAccount,
    responses(
        (status = 201, description = "Opened", body = AccountView, links(
            ("get_account" = (operation_id = "get_account", parameters(("id" = "$response.body#/id")),
                description = "The account just opened")),
            ("account_entries" = (operation_id = "account_entries", parameters(("id" = "$response.body#/id")),
                description = "Its entries")),
        )),
        (status = 409, description = "account_exists: the caller has an account in this currency", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "validation_failed: currency unsupported_currency", content_type = "application/problem+json", body = Problem),
        BearerProblems, BodyProblems,
    ))]
pub async fn create_account(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    ApiJson(body): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let account = state.app.open_account(&ctx, &body.currency).await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// The caller's accounts, by currency.
#[utoipa::path(get, path = "/v1/accounts", tag = "ledger", security(("bearer" = [])), params(PageQuery),
    responses(
        (status = 200, description = "Accounts", body = AccountList),
        BearerProblems, QueryProblems,
    ))]
pub async fn list_accounts(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<AccountList>, ApiError> {
    let page = state.app.accounts(&ctx, &super::page(query)?).await?;
    Ok(Json(AccountList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One of the caller's accounts.
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "ledger", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "Account id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        BearerProblems, NotFoundProblem,
    ))]
pub async fn get_account(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(state.app.account(&ctx, &id).await?.into()))
}

/// An account's entries with the balance after each, the movement's kind, memo, external
/// reference and counterparty; oldest first unless `order=desc`, optionally within
/// `since`..`until`.
#[utoipa::path(get, path = "/v1/accounts/{id}/entries", tag = "ledger", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "Account id"), EntriesQuery),
    responses(
        (status = 200, description = "One page of entries", body = EntryList),
        BearerProblems, NotFoundProblem, QueryProblems,
    ))]
pub async fn account_entries(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
    query: Result<Query<EntriesQuery>, QueryRejection>,
) -> Result<Json<EntryList>, ApiError> {
    let query = super::named_query(query)?;
    let request = window(
        false,
        query.limit,
        query.cursor,
        query.order.as_deref(),
        query.since,
        query.until,
    )?;
    let page = state.app.history(&ctx, &id, &request).await?;
    Ok(Json(EntryList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A history window from a list's `limit`, `cursor`, `order` (`asc`/`desc`; absent:
/// `newest_first`), `since` and `until`.
fn window(
    newest_first: bool,
    limit: Option<i64>,
    cursor: Option<String>,
    order: Option<&str>,
    since: Option<String>,
    until: Option<String>,
) -> Result<HistoryRequest, ApiError> {
    let newest_first = match order {
        None => newest_first,
        Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "`order` must be `asc` or `desc`.",
            ));
        }
    };
    Ok(HistoryRequest {
        page: super::page_of(limit, cursor)?,
        newest_first,
        since,
        until,
    })
}

/// The caller's transfers (those touching one of their accounts), newest first unless
/// `order=asc`; filtered by `account_id`, `kind`, `since` and `until`.
#[utoipa::path(get, path = "/v1/transfers", tag = "ledger", security(("bearer" = [])),
    params(TransfersQuery),
    responses(
        (status = 200, description = "One page of transfers", body = TransferList),
        BearerProblems, NotFoundProblem, QueryProblems,
    ))]
pub async fn list_transfers(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    query: Result<Query<TransfersQuery>, QueryRejection>,
) -> Result<Json<TransferList>, ApiError> {
    let query = super::named_query(query)?;
    let request = TransferListRequest {
        window: window(
            true,
            query.limit,
            query.cursor,
            query.order.as_deref(),
            query.since,
            query.until,
        )?,
        account_id: query.account_id,
        kind: query.kind,
    };
    let page = state.app.transfers(&ctx, &request).await?;
    Ok(Json(TransferList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Move money between two accounts; the source must be the caller's.
#[utoipa::path(post, path = "/v1/transfers", tag = "ledger", security(("bearer" = [])), request_body = NewTransfer,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7e]{1,255}$",
        description = "1–255 visible ASCII characters, chosen by the client per transfer; kept 24 h. A retry with the same key and body answers the original — the posting, or the refusal (404, 422) it first got, even if it would pass now — with `Idempotent-Replayed: true`; with another body, 422 idempotency_key_reused")),
    responses(
        // The shared sets first: the entries below refine their 400.
        BearerProblems, BodyProblems, UnavailableProblem,
        (status = 201, description = "Posted (or the original answer, replayed)", body = TransferView,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same key")),
            links(("get_transfer" = (operation_id = "get_transfer", parameters(("id" = "$response.body#/id")),
                description = "The transfer just posted")))),
        (status = 400, description = "idempotency_key_required (missing or malformed Idempotency-Key), invalid_request (malformed JSON, wrong type, missing field) or unknown_field", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "not_found: the source is not the caller's, or the destination does not exist", content_type = "application/problem+json", body = Problem),
        (status = 409, description = "request_in_progress: the first request with this key is still running", content_type = "application/problem+json", body = Problem),
        (status = 422, description = "validation_failed (amount out_of_range, currency unsupported_currency, memo invalid), insufficient_funds, currency_mismatch, same_account, account_frozen or idempotency_key_reused", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn create_transfer(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewTransfer>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    Ok(posted(state.app.transfer(&ctx, key, body.into()).await?))
}

/// A transfer the caller is a party to.
#[utoipa::path(get, path = "/v1/transfers/{id}", tag = "ledger", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "Transfer id")),
    responses(
        (status = 200, description = "The transfer", body = TransferView),
        BearerProblems, NotFoundProblem,
    ))]
pub async fn get_transfer(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
) -> Result<Json<app::ledger::Receipt>, ApiError> {
    Ok(Json(state.app.transfer_receipt(&ctx, &id).await?))
}

/// Reverse a transfer (scope `ledger:reverse`, `Idempotency-Key`): 201 the reversal, 202 an
/// approval above `ledger.four_eyes_amount`.
pub async fn reverse(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<crate::dto::ReverseBody>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let request = app::ledger::reversals::ReverseRequest {
        reason: body.reason,
    };
    Ok(posted(
        state.app.reverse_transfer(&ctx, key, &id, request).await?,
    ))
}

async fn movement(
    state: &AppState,
    ctx: &app::RequestContext,
    headers: &HeaderMap,
    body: Movement,
    kind: MovementKind,
) -> Result<Response, ApiError> {
    let key = idempotency_key(headers)?;
    Ok(posted(
        state.app.move_money(ctx, kind, key, body.into()).await?,
    ))
}

/// Credit a customer account from the operator's settlement account (scope `ledger:deposit`).
pub async fn deposit(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Movement>,
) -> Result<Response, ApiError> {
    movement(&state, &ctx, &headers, body, MovementKind::Deposit).await
}

/// Debit a customer account to the settlement account (scope `ledger:withdraw`).
pub async fn withdraw(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Movement>,
) -> Result<Response, ApiError> {
    movement(&state, &ctx, &headers, body, MovementKind::Withdrawal).await
}

/// A service's batch of postings (scope `ledger:batch`): 200 with one result per posting, or
/// — atomic — 201 when all posted, 422 with the first refusal's index and code otherwise.
pub async fn post_batch(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    ApiJson(body): ApiJson<crate::dto::BatchBody>,
) -> Result<Response, ApiError> {
    if body.postings.count > app::limits::BATCH_POSTINGS_MAX {
        // The scope is checked first: a service without it learns nothing about batches.
        ctx.service("ledger:batch")?;
        return Err(app::Error::BatchTooLarge {
            max: app::limits::BATCH_POSTINGS_MAX,
        }
        .into());
    }
    let postings = body.postings.items.into_iter().map(Into::into).collect();
    let results = state.app.post_batch(&ctx, postings, body.atomic).await?;
    let status = if body.atomic {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(crate::dto::BatchResponse::of(results))).into_response())
}

/// Any customer account (scope `ledger:read`).
pub async fn internal_account(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(state.app.customer_account(&ctx, &id).await?.into()))
}

/// Open an operator account (scope `ledger:admin`): 201 the account; 200 the account when it
/// was open already.
pub async fn create_operator_account(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    ApiJson(body): ApiJson<crate::dto::OperatorAccountBody>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let request = app::ledger::operator::OperatorAccountRequest {
        name: body.name,
        currency: body.currency,
    };
    Ok(
        match state.app.create_operator_account(&ctx, request).await? {
            OperatorAccount::Opened(account) => (StatusCode::CREATED, Json(account.into())),
            OperatorAccount::Existing(account) => (StatusCode::OK, Json(account.into())),
        },
    )
}

/// Freeze a customer account (scope `ledger:freeze`): it can still receive, but not send.
pub async fn freeze_account(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(
        state.app.set_account_active(&ctx, &id, false).await?.into(),
    ))
}

/// Lift a freeze (scope `ledger:freeze`).
pub async fn unfreeze_account(
    State(state): State<AppState>,
    ServiceCtx(ctx): ServiceCtx,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    Ok(Json(
        state.app.set_account_active(&ctx, &id, true).await?.into(),
    ))
}
