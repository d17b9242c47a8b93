//! Account statements for their owner: the opening balance, every entry of the period and the
//! closing balance, which the store checks add up before answering.

use store::{AccountRecord, Statement, StatementOutcome};

use super::history::instant;
use crate::limits::STATEMENT_ENTRIES_MAX;
use crate::{App, Error, FieldError, RequestContext, Result};

/// A statement with what it covers.
#[derive(Debug, Clone)]
pub struct AccountStatement {
    pub account: AccountRecord,
    /// The period asked for, in milliseconds (`None`: open).
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub statement: Statement,
}

impl App {
    /// The caller's account's statement for `from`..`to` (RFC 3339; `to` exclusive; either
    /// may be absent).
    pub async fn statement(
        &self,
        ctx: &RequestContext,
        account_id: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<AccountStatement> {
        let since = instant("from", from, i64::MIN)?;
        let until = instant("to", to, i64::MAX)?;
        if since >= until {
            return Err(Error::invalid_input("`from` must be before `to`."));
        }
        let account = self.owned_account(ctx, account_id).await?;
        match self
            .store
            .statement(&account.id, since, until, STATEMENT_ENTRIES_MAX)
            .await?
        {
            StatementOutcome::Ready(statement) => Ok(AccountStatement {
                account,
                from: from.map(|_| since),
                to: to.map(|_| until),
                statement,
            }),
            StatementOutcome::TooLong => Err(Error::Validation {
                errors: vec![FieldError {
                    field: "from".to_owned(),
                    code: "too_many_entries",
                }],
            }),
        }
    }
}
