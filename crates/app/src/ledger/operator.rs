//! Operator accounts (scope `ledger:admin`): the operator's own money per currency — fees,
//! revenue, reserves — named, never negative. Services move money to and from them in the
//! batch endpoint (`fee`: customer → operator, `rebate`: operator → customer), so a payment and
//! its fee post as one atomic batch; a reversal can take either back.

use serde::{Deserialize, Serialize};
use store::AccountRecord;

use crate::limits::OPERATOR_NAME_CHARS_MAX;
use crate::{App, Error, RequestContext, Result, new_id};

/// The scope that opens operator accounts.
pub const LEDGER_ADMIN_SCOPE: &str = "ledger:admin";

/// An operator account as requested.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorAccountRequest {
    /// 1–64 of `a-z`, `0-9`, `-`, `_` (`fees`, `card-revenue`).
    pub name: String,
    pub currency: String,
}

impl App {
    /// Opens operator account `name` in `currency`, or finds it open already.
    pub async fn create_operator_account(
        &self,
        ctx: &RequestContext,
        request: OperatorAccountRequest,
    ) -> Result<OperatorAccount> {
        let service = ctx.service(LEDGER_ADMIN_SCOPE)?;
        let valid = !request.name.is_empty()
            && request.name.len() <= OPERATOR_NAME_CHARS_MAX
            && request.name.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_'
            });
        if !valid {
            return Err(Error::field("name", "invalid"));
        }
        let currency = self.currency(&request.currency)?;
        let account = AccountRecord {
            id: new_id(),
            user_id: None,
            kind: ledger::AccountKind::Operator.as_str().to_owned(),
            currency: currency.as_str().to_owned(),
            balance: 0,
            held: 0,
            status: "active".to_owned(),
            created_at: self.clock.now_ms(),
            name: Some(request.name.clone()),
        };
        let entry = self.audit_entry(
            ctx,
            "ledger.operator_account",
            &format!("account:{}", account.id),
            "success",
            serde_json::json!({ "name": account.name, "currency": account.currency }),
        );
        if !self.store.create_operator_account(&account, &entry).await? {
            // Opening it again answers the open account, so a client that lost the first
            // answer learns its id.
            return self
                .store
                .find_operator_account(&request.name, currency.as_str())
                .await?
                .map(OperatorAccount::Existing)
                .ok_or(Error::AccountExists);
        }
        tracing::info!(account = %account.id, service = %service.name, "operator account opened");
        Ok(OperatorAccount::Opened(account))
    }
}

/// What opening an operator account did.
#[derive(Debug)]
pub enum OperatorAccount {
    Opened(AccountRecord),
    /// It was open already: the account as it is.
    Existing(AccountRecord),
}
