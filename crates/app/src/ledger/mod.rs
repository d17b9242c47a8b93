//! Accounts and money movements. Every money-moving command needs an idempotency key; the
//! use cases validate the request and hand the posting to the single ledger writer
//! (`store::LedgerWriter`), which checks the key, the accounts and the balance with
//! `ledger::batch::decide` and commits it in a group-committed batch. Reads check ownership
//! (someone else's account or transfer is `NotFound`, never "forbidden").

pub mod admission;
pub mod batch;
pub mod events;
pub mod four_eyes;
pub mod history;
pub mod holds;
pub mod operator;
pub mod reversals;
pub mod statement;

use ledger::{Currency, Money, PostingKind, Refusal};
use serde::Serialize;
use store::{
    AccountRecord, IdempotencyRecord, PostingOutcome, PostingRequest, TransferRecord, WriteError,
};

use crate::identity::session::{Page, PageRequest};
use crate::limits::{
    EXTERNAL_REF_CHARS_MAX, ID_CHARS_MAX, IDEMPOTENCY_KEY_CHARS_MAX, MEMO_CHARS_MAX,
    WRITER_BUSY_RETRY_AFTER_SECS,
};
use crate::{App, Error, RequestContext, Result, new_id, rfc3339};

/// A transfer as answered to its initiator — and stored with its idempotency key, so a
/// replay answers byte for byte the same.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub id: String,
    /// Always `posted`: transfers are immutable once written.
    pub status: &'static str,
    pub from_account_id: String,
    pub to_account_id: String,
    pub amount: i64,
    pub currency: String,
    pub memo: Option<String>,
    pub created_at: String,
    /// A reversal: the transfer it reversed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverses: Option<String>,
    /// A reversed transfer: the reversal (filled in where a read looks it up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversed_by: Option<String>,
}

impl Receipt {
    pub fn of(transfer: &TransferRecord) -> Receipt {
        Receipt {
            id: transfer.id.clone(),
            status: "posted",
            from_account_id: transfer.from_account_id.clone(),
            to_account_id: transfer.to_account_id.clone(),
            amount: transfer.amount,
            currency: transfer.currency.clone(),
            memo: transfer.memo.clone(),
            created_at: rfc3339(transfer.created_at),
            reverses: transfer.reverses.clone(),
            reversed_by: None,
        }
    }
}

/// What posting a money movement answered.
#[derive(Debug)]
pub enum Posted {
    New(Receipt),
    /// The same request with the same key, answered before: the original answer's JSON.
    Replayed(String),
    /// A withdrawal above `ledger.four_eyes_amount`: posted once an admin approves it.
    PendingApproval {
        approval_id: String,
        status: String,
    },
}

/// A customer transfer as requested.
#[derive(Debug, Clone, Serialize)]
pub struct TransferRequest {
    pub from_account_id: String,
    pub to_account_id: String,
    pub amount: i64,
    pub currency: String,
    pub memo: Option<String>,
}

/// A deposit or withdrawal by a service.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct MovementRequest {
    pub account_id: String,
    pub amount: i64,
    pub currency: String,
    pub external_ref: String,
}

/// Deposits credit a customer account; withdrawals debit it (against settlement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Deposit,
    Withdrawal,
}

/// An `Idempotency-Key`: 1–255 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub(crate) String);

impl IdempotencyKey {
    /// `None` when absent or malformed (the edge answers `idempotency_key_required`).
    pub fn parse(raw: &str) -> Option<IdempotencyKey> {
        let valid = !raw.is_empty()
            && raw.len() <= IDEMPOTENCY_KEY_CHARS_MAX
            && raw.bytes().all(|byte| byte.is_ascii_graphic());
        valid.then(|| IdempotencyKey(raw.to_owned()))
    }
}

/// A validated money movement, ready for the ledger writer.
pub(crate) struct Posting {
    pub(crate) kind: PostingKind,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) amount: Money,
    pub(crate) currency: Currency,
    pub(crate) memo: Option<String>,
    pub(crate) external_ref: Option<String>,
    pub(crate) initiated_by: String,
    pub(crate) source_owner: Option<String>,
    pub(crate) reverses: Option<String>,
}

fn amount(value: i64) -> Result<Money> {
    Money::new(value).map_err(|_| Error::field("amount", "out_of_range"))
}

pub(crate) fn request_hash(operation: &str, body: &impl Serialize) -> Result<Vec<u8>> {
    let canonical =
        serde_json::to_vec(body).map_err(|error| crate::error::internal("request hash", error))?;
    let mut bytes = operation.as_bytes().to_vec();
    bytes.push(0);
    bytes.extend(canonical);
    Ok(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes)
            .as_ref()
            .to_vec(),
    )
}

/// A currency accounts can be opened in, and the minor units its amounts are counted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyInfo {
    pub code: String,
    pub minor_units: u16,
}

impl App {
    /// The configured currencies, in configuration order (validated at load to have minor
    /// units).
    pub fn currencies(&self) -> Vec<CurrencyInfo> {
        self.ledger
            .currencies
            .iter()
            .filter_map(|code| {
                Some(CurrencyInfo {
                    code: code.clone(),
                    minor_units: ledger::minor_units(code)?,
                })
            })
            .collect()
    }

    pub(crate) fn currency(&self, code: &str) -> Result<Currency> {
        Currency::parse(code, &self.ledger.currencies)
            .map_err(|_| Error::field("currency", "unsupported_currency"))
    }

    /// The caller's own account, or `NotFound` (never reveal that someone else's exists).
    async fn owned_account(&self, ctx: &RequestContext, id: &str) -> Result<AccountRecord> {
        let caller = ctx.caller()?;
        if id.len() > ID_CHARS_MAX {
            return Err(Error::NotFound);
        }
        self.store
            .find_account(id)
            .await?
            .filter(|account| account.user_id.as_deref() == Some(caller.user_id.as_str()))
            .ok_or(Error::NotFound)
    }

    /// Opens an account in a configured currency (one per currency per user).
    pub async fn open_account(
        &self,
        ctx: &RequestContext,
        currency: &str,
    ) -> Result<AccountRecord> {
        let caller = ctx.caller()?;
        let currency = self.currency(currency)?;
        let account = AccountRecord {
            id: new_id(),
            user_id: Some(caller.user_id.as_str().to_owned()),
            kind: "customer".to_owned(),
            currency: currency.as_str().to_owned(),
            balance: 0,
            held: 0,
            status: "active".to_owned(),
            created_at: self.clock.now_ms(),
            name: None,
        };
        if !self.store.create_account(&account).await? {
            return Err(Error::AccountExists);
        }
        Ok(account)
    }

    /// The caller's accounts, by currency. A cursor must name one of their accounts.
    pub async fn accounts(
        &self,
        ctx: &RequestContext,
        page: &PageRequest,
    ) -> Result<Page<AccountRecord>> {
        let caller = ctx.caller()?;
        let after_currency = match &page.cursor {
            None => None,
            Some(cursor) => Some(
                self.owned_account(ctx, cursor)
                    .await
                    .map_err(|_| Error::invalid_input("Unknown cursor."))?
                    .currency,
            ),
        };
        let accounts = self
            .store
            .list_accounts(
                caller.user_id.as_str(),
                after_currency.as_deref(),
                page.limit.saturating_add(1),
            )
            .await?;
        let (items, more) = page.split(accounts);
        let next_cursor = more
            .then(|| items.last().map(|account| account.id.clone()))
            .flatten();
        Ok(Page { items, next_cursor })
    }

    pub async fn account(&self, ctx: &RequestContext, id: &str) -> Result<AccountRecord> {
        self.owned_account(ctx, id).await
    }

    /// Moves money between two accounts; the source must be the caller's. Above
    /// `ledger.step_up_amount` the caller must have stepped up.
    pub async fn transfer(
        &self,
        ctx: &RequestContext,
        key: IdempotencyKey,
        request: TransferRequest,
    ) -> Result<Posted> {
        let caller = ctx.caller()?;
        let amount = amount(request.amount)?;
        let currency = self.currency(&request.currency)?;
        if request.memo.as_ref().is_some_and(|memo| {
            memo.chars().count() > MEMO_CHARS_MAX || memo.chars().any(char::is_control)
        }) {
            return Err(Error::field("memo", "invalid"));
        }
        if request.from_account_id == request.to_account_id {
            return Err(Error::SameAccount);
        }
        if request.from_account_id.len() > ID_CHARS_MAX
            || request.to_account_id.len() > ID_CHARS_MAX
        {
            return Err(Error::NotFound);
        }
        if amount.minor_units() > self.ledger.step_up_amount {
            self.require_step_up_or_enrolment(ctx).await?;
        }
        self.require_verified_email(caller.user_id.as_str()).await?;
        // A source that is not the caller's never takes a place in the writer's queue. The
        // writer checks ownership, existence, kinds and currencies again, against the same
        // account states it posts on.
        self.require_source_owner(&request.from_account_id, caller.user_id.as_str())
            .await?;
        let hash = request_hash("/v1/transfers", &request)?;
        let scope = format!("user:{}", caller.user_id);
        let posting = Posting {
            kind: PostingKind::Transfer,
            from: request.from_account_id,
            to: request.to_account_id,
            amount,
            currency,
            memo: request.memo,
            external_ref: None,
            initiated_by: scope.clone(),
            source_owner: Some(caller.user_id.as_str().to_owned()),
            reverses: None,
        };
        self.post_idempotently(ctx, scope, key, hash, posting).await
    }

    /// A transfer the caller is a party to, linked to its reversal if it has one.
    pub async fn transfer_receipt(&self, ctx: &RequestContext, id: &str) -> Result<Receipt> {
        let transfer = self.transfer_of(ctx, id).await?;
        let mut receipt = Receipt::of(&transfer);
        receipt.reversed_by = self.store.reversal_of(&transfer.id).await?;
        Ok(receipt)
    }

    /// A transfer the caller is a party to.
    pub async fn transfer_of(&self, ctx: &RequestContext, id: &str) -> Result<TransferRecord> {
        let caller = ctx.caller()?;
        if id.len() > ID_CHARS_MAX {
            return Err(Error::NotFound);
        }
        let transfer = self.store.find_transfer(id).await?.ok_or(Error::NotFound)?;
        let mut party = false;
        for account_id in [&transfer.from_account_id, &transfer.to_account_id] {
            let account = self.store.find_account(account_id).await?;
            party |= account
                .is_some_and(|account| account.user_id.as_deref() == Some(caller.user_id.as_str()));
        }
        if party {
            Ok(transfer)
        } else {
            Err(Error::NotFound)
        }
    }

    /// A deposit (scope `ledger:deposit`) or withdrawal (`ledger:withdraw`) by a service,
    /// against the per-currency settlement account.
    pub async fn move_money(
        &self,
        ctx: &RequestContext,
        movement: Movement,
        key: IdempotencyKey,
        request: MovementRequest,
    ) -> Result<Posted> {
        let (scope_name, operation, kind) = match movement {
            Movement::Deposit => (
                "ledger:deposit",
                "/internal/v1/deposits",
                PostingKind::Deposit,
            ),
            Movement::Withdrawal => (
                "ledger:withdraw",
                "/internal/v1/withdrawals",
                PostingKind::Withdrawal,
            ),
        };
        let service = ctx.service(scope_name)?;
        let amount = amount(request.amount)?;
        let currency = self.currency(&request.currency)?;
        if request.external_ref.is_empty()
            || request.external_ref.chars().count() > EXTERNAL_REF_CHARS_MAX
        {
            return Err(Error::field("external_ref", "length"));
        }
        if request.account_id.len() > ID_CHARS_MAX {
            return Err(Error::NotFound);
        }
        let settlement = format!("settlement-{}", currency.as_str());
        let hash = request_hash(operation, &request)?;
        if movement == Movement::Withdrawal && self.auth.require_verified_email {
            // An unknown account is the writer's to refuse (404), as without the rule.
            let owner = self.store.find_account(&request.account_id).await?;
            if let Some(owner) = owner.and_then(|account| account.user_id) {
                self.require_verified_email(&owner).await?;
            }
        }
        if movement == Movement::Withdrawal && amount.minor_units() > self.ledger.four_eyes_amount {
            let scope = format!("service:{}", service.name);
            return self
                .withdrawal_for_approval(ctx, scope, key, hash, request)
                .await;
        }
        let (from, to) = match movement {
            Movement::Deposit => (settlement, request.account_id),
            Movement::Withdrawal => (request.account_id, settlement),
        };
        let scope = format!("service:{}", service.name);
        let posting = Posting {
            kind,
            from,
            to,
            amount,
            currency,
            memo: None,
            external_ref: Some(request.external_ref),
            initiated_by: scope.clone(),
            source_owner: None,
            reverses: None,
        };
        self.post_idempotently(ctx, scope, key, hash, posting).await
    }

    /// Hands the posting and its idempotency key to the ledger writer, which checks the key,
    /// the accounts and the balance, and commits the posting with the key in one transaction.
    pub(crate) async fn post_idempotently(
        &self,
        ctx: &RequestContext,
        scope: String,
        key: IdempotencyKey,
        request_hash: Vec<u8>,
        posting: Posting,
    ) -> Result<Posted> {
        let place = self.ledger_admission.place(&scope)?;
        let created_at = self.clock.now_ms();
        let kind = posting.kind;
        let (request, receipt) =
            posting_request(ctx, scope, key, request_hash, posting, created_at)?;
        let outcome = self.post_holding(request, place).await?;
        match outcome {
            PostingOutcome::Posted => {
                metrics::counter!("strongroom_transfers_posted_total", "kind" => kind.as_str())
                    .increment(1);
                Ok(Posted::New(receipt))
            }
            PostingOutcome::Replayed { body } => Ok(Posted::Replayed(body)),
            PostingOutcome::KeyReused => Err(Error::IdempotencyKeyReused),
            PostingOutcome::KeyInProgress => Err(Error::RequestInProgress),
            PostingOutcome::Refused(refusal) => Err(refused(refusal)),
            PostingOutcome::RefusedBefore(refusal) => {
                Err(Error::Replayed(Box::new(refused(refusal))))
            }
        }
    }

    /// Hands `request` to the writer. The queue place is given back when the writer answers,
    /// not when this request goes away: a caller that disconnects at once cannot get past its
    /// share.
    async fn post_holding(
        &self,
        request: PostingRequest,
        place: admission::QueuePlace,
    ) -> Result<PostingOutcome> {
        let writer = self.writer.clone();
        let posted = tokio::spawn(async move {
            let outcome = writer.post(request).await;
            drop(place);
            outcome
        });
        posted
            .await
            .map_err(|_| WriteError::Failed)
            .and_then(|outcome| outcome)
            .map_err(|error| match error {
                WriteError::Busy | WriteError::Unavailable => Error::Unavailable {
                    retry_after_secs: WRITER_BUSY_RETRY_AFTER_SECS,
                },
                WriteError::Failed => Error::Internal,
            })
    }

    /// Any customer or operator account (scope `ledger:read`).
    pub async fn customer_account(&self, ctx: &RequestContext, id: &str) -> Result<AccountRecord> {
        ctx.service("ledger:read")?;
        if id.len() > ID_CHARS_MAX {
            return Err(Error::NotFound);
        }
        self.store
            .find_account(id)
            .await?
            .filter(|account| account.kind == "customer" || account.kind == "operator")
            .ok_or(Error::NotFound)
    }

    /// Freezes (a frozen account receives but cannot send) or unfreezes an account (scope
    /// `ledger:freeze`).
    pub async fn set_account_active(
        &self,
        ctx: &RequestContext,
        id: &str,
        active: bool,
    ) -> Result<AccountRecord> {
        let service = ctx.service("ledger:freeze")?;
        let action = if active {
            "ledger.unfreeze"
        } else {
            "ledger.freeze"
        };
        let audit = self.audit_entry(
            ctx,
            action,
            &format!("account:{id}"),
            "success",
            serde_json::json!({}),
        );
        if id.len() > ID_CHARS_MAX || !self.store.set_account_active(id, active, &audit).await? {
            return Err(Error::NotFound);
        }
        tracing::info!(account = id, service = %service.name, active, "ledger account status changed");
        self.store.find_account(id).await?.ok_or(Error::NotFound)
    }
}

/// The writer's request for `posting` and the receipt it answers with (stored with the key, so
/// a replay answers the same), created at `created_at`.
pub(crate) fn posting_request(
    ctx: &RequestContext,
    scope: String,
    key: IdempotencyKey,
    request_hash: Vec<u8>,
    posting: Posting,
    created_at: i64,
) -> Result<(PostingRequest, Receipt)> {
    let receipt = Receipt {
        id: new_id(),
        status: "posted",
        from_account_id: posting.from,
        to_account_id: posting.to,
        amount: posting.amount.minor_units(),
        currency: posting.currency.as_str().to_owned(),
        memo: posting.memo,
        created_at: rfc3339(created_at),
        reverses: posting.reverses.clone(),
        reversed_by: None,
    };
    let response_body = serde_json::to_string(&receipt)
        .map_err(|error| crate::error::internal("receipt", error))?;
    let request = PostingRequest {
        kind: posting.kind,
        transfer_id: receipt.id.clone(),
        debit_entry_id: new_id(),
        credit_entry_id: new_id(),
        from_account_id: receipt.from_account_id.clone(),
        to_account_id: receipt.to_account_id.clone(),
        amount: posting.amount,
        currency: receipt.currency.clone(),
        memo: receipt.memo.clone(),
        external_ref: posting.external_ref,
        initiated_by: posting.initiated_by,
        source_owner: posting.source_owner,
        reverses: posting.reverses,
        created_at,
        idempotency: IdempotencyRecord {
            scope,
            key: key.0,
            request_hash,
            response_body,
        },
        request_id: ctx.request_id.clone(),
        ip: ctx.ip.to_string(),
    };
    Ok((request, receipt))
}

/// The answer to a posting the writer refused.
pub(crate) fn refused(refusal: Refusal) -> Error {
    match refusal {
        Refusal::AccountNotFound => Error::NotFound,
        Refusal::SameAccount => Error::SameAccount,
        Refusal::CurrencyMismatch => Error::CurrencyMismatch,
        Refusal::AccountNotActive => Error::AccountFrozen,
        Refusal::InsufficientFunds => Error::InsufficientFunds,
        Refusal::BalanceLimit => Error::field("amount", "balance_limit"),
        Refusal::DuplicateExternalRef { original_id } => {
            Error::DuplicateExternalRef { original_id }
        }
        Refusal::AlreadyReversed { reversal_id } => Error::AlreadyReversed { reversal_id },
    }
}
