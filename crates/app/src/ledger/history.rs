//! An account's history for its owner: entries with their movement's kind, memo, external
//! reference and counterparty, oldest first (the default) or newest first, within an optional
//! time window. The cursor is the last entry's id: it says nothing about the global journal.

use store::{HistoryEntry, HistoryQuery};

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
fn instant(name: &str, value: Option<&str>, absent: i64) -> Result<i64> {
    match value {
        None => Ok(absent),
        Some(text) => parse_rfc3339(text).ok_or_else(|| {
            Error::invalid_input(format!(
                "`{name}` must be an RFC 3339 date-time, like 2026-11-29T00:00:00Z."
            ))
        }),
    }
}

impl App {
    /// One page of the caller's account's history.
    pub async fn history(
        &self,
        ctx: &RequestContext,
        account_id: &str,
        request: &HistoryRequest,
    ) -> Result<Page<HistoryEntry>> {
        let since = instant("since", request.since.as_deref(), i64::MIN)?;
        let until = instant("until", request.until.as_deref(), i64::MAX)?;
        if since >= until {
            return Err(Error::invalid_input("`since` must be before `until`."));
        }
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
