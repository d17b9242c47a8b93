//! `GET /v1/accounts/{id}/statement`: an account's statement for a period as JSON or CSV, with
//! the opening and closing balance. CSV cells that a spreadsheet would run as a formula (a
//! memo starting with `=`, `+`, `-`, `@`) are prefixed with `'`.

use app::ledger::statement::AccountStatement;
use app::rfc3339;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use crate::context::UserCtx;
use crate::dto::{EntryView, StatementQuery, StatementView};
use crate::error::ApiError;
use crate::problems::{BearerProblems, NotFoundProblem, QueryProblems};
use crate::state::AppState;

/// The period's opening balance, every entry (oldest first, with the movement's kind, memo,
/// external reference and counterparty) and the closing balance; `format=csv` for a
/// spreadsheet. The period is cut in commit order at the first entry created at or after
/// `from` and `to`, so opening + entries = closing exactly.
#[utoipa::path(get, path = "/v1/accounts/{id}/statement", tag = "ledger", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "Account id"), StatementQuery),
    responses(
        (status = 200, description = "The statement", content(
            (StatementView = "application/json"),
            (String = "text/csv"),
        )),
        BearerProblems, NotFoundProblem, QueryProblems,
    ))]
pub async fn statement(
    State(state): State<AppState>,
    UserCtx(ctx): UserCtx,
    Path(id): Path<String>,
    query: Result<Query<StatementQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = super::named_query(query)?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "`format` must be `json` or `csv`.",
            ));
        }
    };
    let statement = state
        .app
        .statement(&ctx, &id, query.from.as_deref(), query.to.as_deref())
        .await?;
    if !csv {
        return Ok(Json(view(statement)).into_response());
    }
    let body = to_csv(&statement)?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"statement-{}.csv\"",
        statement.account.id
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn view(statement: AccountStatement) -> StatementView {
    StatementView {
        account_id: statement.account.id,
        currency: statement.account.currency,
        from: statement.from.map(rfc3339),
        to: statement.to.map(rfc3339),
        opening_balance: statement.statement.opening_balance,
        closing_balance: statement.statement.closing_balance,
        entries: statement
            .statement
            .entries
            .into_iter()
            .map(EntryView::from)
            .collect(),
    }
}

/// A text cell a spreadsheet will not take for a formula (OWASP "CSV injection"): one that
/// starts with a trigger character, possibly after white space (full-width `＝` included), or
/// with a control character.
fn cell(text: &str) -> String {
    let triggers = [
        '=', '+', '-', '@', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}',
    ];
    let starts_with_control = text.starts_with(char::is_control);
    if starts_with_control || text.trim_start().starts_with(triggers) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

const CSV_HEADER: [&str; 11] = [
    "created_at",
    "entry_id",
    "transfer_id",
    "kind",
    "direction",
    "amount",
    "currency",
    "balance_after",
    "counterparty_account_id",
    "external_ref",
    "memo",
];

/// The statement as CSV: a header, an `opening_balance` row, one row per entry, a
/// `closing_balance` row.
fn to_csv(statement: &AccountStatement) -> Result<String, ApiError> {
    let failed = |_| ApiError::INTERNAL;
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER).map_err(failed)?;
    let currency = statement.account.currency.as_str();
    let summary = |at: Option<i64>, kind: &str, balance: i64| {
        let at = at.map(rfc3339).unwrap_or_default();
        [
            at,
            String::new(),
            String::new(),
            kind.to_owned(),
            String::new(),
            String::new(),
            currency.to_owned(),
            balance.to_string(),
            String::new(),
            String::new(),
            String::new(),
        ]
    };
    let totals = &statement.statement;
    writer
        .write_record(summary(
            statement.from,
            "opening_balance",
            totals.opening_balance,
        ))
        .map_err(failed)?;
    for entry in &totals.entries {
        writer
            .write_record([
                rfc3339(entry.created_at),
                entry.id.clone(),
                entry.transfer_id.clone(),
                entry.kind.clone(),
                entry.direction.clone(),
                entry.amount.to_string(),
                entry.currency.clone(),
                entry.balance_after.to_string(),
                entry.counterparty_account_id.clone(),
                cell(entry.external_ref.as_deref().unwrap_or_default()),
                cell(entry.memo.as_deref().unwrap_or_default()),
            ])
            .map_err(failed)?;
    }
    writer
        .write_record(summary(
            statement.to,
            "closing_balance",
            totals.closing_balance,
        ))
        .map_err(failed)?;
    let bytes = writer.into_inner().map_err(|_| ApiError::INTERNAL)?;
    String::from_utf8(bytes).map_err(|_| ApiError::INTERNAL)
}

#[cfg(test)]
mod tests;
