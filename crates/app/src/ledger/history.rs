//! An account's history for its owner: entries with their movement's kind, memo, external
//! reference and counterparty, oldest first (the default) or newest first, within an optional
//! time window; and the caller's transfers, newest first by default, filtered by account and
//! kind. Cursors are the last entry's id: they say nothing about the global journal.

use store::{HistoryEntry, HistoryQuery, TransferListRow, TransferQuery};

use crate::clock::parse_rfc3339;
use crate::identity::session::{Page, PageRequest};
use crate::{App, Error, RequestContext, Result};

/// Which part of the history, as the client asked.
#[derive(Debug, Clone)]
pub struct HistoryRequest {
    pub page: PageRequest,
    pub newest_first: bool,
    /// RFC 3339 date-times: from (inclusive) and until (exclusive).
    pub since: Option<String>,
    pub until: Option<String>,
}

/// `name`'s RFC 3339 value in milliseconds, or 400 naming it.
pub(crate) fn instant(name: &str, value: Option<&str>, absent: i64) -> Result<i64> {
    match value {
        None => Ok(absent),
        Some(text) => parse_rfc3339(text).ok_or_else(|| {
            Error::invalid_input(format!(
                "`{name}` must be an RFC 3339 date-time, like 2026-11-29T00:00:00Z."
            ))
        }),
    }
}

/// Which of the caller's transfers, as the client asked (empty filters: all).
#[derive(Debug, Clone)]
pub struct TransferListRequest {
    pub window: HistoryRequest,
    pub account_id: Option<String>,
    pub kind: Option<String>,
}

/// The kinds a transfer list may be filtered by.
const KINDS: [&str; 7] = [
    "transfer",
    "deposit",
    "withdrawal",
    "capture",
    "reversal",
    "fee",
    "rebate",
];

/// The window's bounds in milliseconds, checked.
fn bounds(request: &HistoryRequest) -> Result<(i64, i64)> {
    let since = instant("since", request.since.as_deref(), i64::MIN)?;
    let until = instant("until", request.until.as_deref(), i64::MAX)?;
    if since >= until {
        return Err(Error::invalid_input("`since` must be before `until`."));
    }
    Ok((since, until))
}

impl App {
    /// One page of the caller's transfers (those touching one of their accounts).
    pub async fn transfers(
        &self,
        ctx: &RequestContext,
        request: &TransferListRequest,
    ) -> Result<Page<TransferListRow>> {
        let caller = ctx.caller()?;
        let (since, until) = bounds(&request.window)?;
        let kind = match request.kind.as_deref() {
            None => String::new(),
            Some(kind) if KINDS.contains(&kind) => kind.to_owned(),
            Some(_) => {
                return Err(Error::invalid_input(
                    "`kind` must be `transfer`, `deposit`, `withdrawal`, `capture`, `reversal`, `fee` or `rebate`.",
                ));
            }
        };
        let account_id = match request.account_id.as_deref() {
            None => String::new(),
            Some(id) => self.owned_account(ctx, id).await?.id,
        };
        let page = &request.window.page;
        let after_seq = match &page.cursor {
            None => None,
            Some(cursor) => Some(
                self.store
                    .user_entry_seq(caller.user_id.as_str(), cursor)
                    .await?
                    .ok_or_else(|| Error::invalid_input("Malformed cursor."))?,
            ),
        };
        let query = TransferQuery {
            account_id,
            kind,
            window: HistoryQuery {
                after_seq,
                newest_first: request.window.newest_first,
                since,
                until,
                limit: page.limit.saturating_add(1),
            },
        };
        let rows = self
            .store
            .user_transfers(caller.user_id.as_str(), &query)
            .await?;
        let (items, more) = page.split(rows);
        let next_cursor = more
            .then(|| items.last().map(|row| row.entry_id.clone()))
            .flatten();
        Ok(Page { items, next_cursor })
    }

    /// One page of the caller's account's history.
    pub async fn history(
        &self,
        ctx: &RequestContext,
        account_id: &str,
        request: &HistoryRequest,
    ) -> Result<Page<HistoryEntry>> {
        let (since, until) = bounds(request)?;
        let account = self.owned_account(ctx, account_id).await?;
        let after_seq = match &request.page.cursor {
            None => None,
            Some(cursor) => Some(
                self.store
                    .entry_seq(&account.id, cursor)
                    .await?
                    .ok_or_else(|| Error::invalid_input("Malformed cursor."))?,
            ),
        };
        let query = HistoryQuery {
            after_seq,
            newest_first: request.newest_first,
            since,
            until,
            limit: request.page.limit.saturating_add(1),
        };
        let entries = self.store.account_history(&account.id, &query).await?;
        let (items, more) = request.page.split(entries);
        let next_cursor = more
            .then(|| items.last().map(|entry| entry.id.clone()))
            .flatten();
        Ok(Page { items, next_cursor })
    }
}
