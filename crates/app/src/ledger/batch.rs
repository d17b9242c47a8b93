//! A service's batch of postings (`POST /internal/v1/transfers/batch`, scope `ledger:batch`):
//! up to `BATCH_POSTINGS_MAX` transfers between customer accounts, deposits and withdrawals,
//! each with its own idempotency key, decided in order by the single ledger writer. Every
//! posting is validated before anything is queued, so a malformed one posts nothing. Not
//! atomic: each posting is posted or refused alone (TigerBeetle's `create_transfers`). Atomic:
//! one transaction that commits only if every posting passes; the first refusal is the answer.

use ledger::PostingKind;
use serde::Serialize;
use store::{PostingOutcome, PostingRequest, WriteError};
use tokio::sync::Semaphore;

use super::{IdempotencyKey, Posting, amount, posting_request};
use crate::limits::{
    BATCH_POSTINGS_MAX, BATCHES_RUNNING_MAX, EXTERNAL_REF_CHARS_MAX, ID_CHARS_MAX, MEMO_CHARS_MAX,
    WRITER_BUSY_RETRY_AFTER_SECS,
};
use crate::{App, Error, RequestContext, Result};

/// Batches being validated or posted now (each may hold `BATCH_POSTINGS_MAX` postings).
static BATCHES_RUNNING: Semaphore = Semaphore::const_new(BATCHES_RUNNING_MAX);

/// The operation a batch posting's request hash is bound to: a key used for a single deposit
/// and again in a batch is "reused".
const BATCH_OPERATION: &str = "/internal/v1/transfers/batch";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchKind {
    Transfer,
    Deposit,
    Withdrawal,
    /// Customer to operator account.
    Fee,
    /// Operator account to customer.
    Rebate,
}

/// One posting as the service sent it.
#[derive(Debug, Clone, Serialize)]
pub struct BatchPosting {
    pub kind: BatchKind,
    #[serde(skip)]
    pub idempotency_key: String,
    pub from_account_id: Option<String>,
    pub to_account_id: Option<String>,
    pub account_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub external_ref: Option<String>,
    pub memo: Option<String>,
}

/// The answer for one posting, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchResult {
    /// Posted now, or earlier under the same key (a replay).
    Posted { id: String },
    /// Nothing moved; `code` is the problem code the single endpoints would answer with.
    Refused { code: &'static str },
}

/// A posting ready for the writer, or refused before it.
type Prepared = std::result::Result<(PostingRequest, PostingKind), &'static str>;

impl App {
    /// Validates every posting, then hands the batch to the ledger writer and answers one
    /// result per posting. Atomic: `Error::BatchRefused` with the first refusal, nothing
    /// posted.
    pub async fn post_batch(
        &self,
        ctx: &RequestContext,
        postings: Vec<BatchPosting>,
        atomic: bool,
    ) -> Result<Vec<BatchResult>> {
        let service = ctx.service("ledger:batch")?;
        if postings.len() > BATCH_POSTINGS_MAX {
            return Err(Error::BatchTooLarge {
                max: BATCH_POSTINGS_MAX,
            });
        }
        if postings.is_empty() {
            return Err(Error::field("postings", "empty"));
        }
        let _running = BATCHES_RUNNING
            .try_acquire()
            .map_err(|_| Error::Unavailable {
                retry_after_secs: WRITER_BUSY_RETRY_AFTER_SECS,
            })?;
        let scope = format!("service:{}", service.name);
        let created_at = self.clock.now_ms();
        let mut prepared: Vec<Prepared> = Vec::with_capacity(postings.len());
        for (index, posting) in postings.into_iter().enumerate() {
            prepared.push(
                self.prepare(ctx, &scope, index, posting, created_at)
                    .await?,
            );
        }
        if atomic
            && let Some((index, code)) = prepared
                .iter()
                .enumerate()
                .find_map(|(index, prepared)| prepared.as_ref().err().map(|code| (index, *code)))
        {
            return Err(Error::BatchRefused { index, code });
        }
        let results = self.post_prepared(&scope, prepared, atomic).await?;
        if atomic
            && let Some((index, code)) =
                results
                    .iter()
                    .enumerate()
                    .find_map(|(index, result)| match result {
                        BatchResult::Refused { code } => Some((index, *code)),
                        BatchResult::Posted { .. } => None,
                    })
        {
            return Err(Error::BatchRefused { index, code });
        }
        Ok(results)
    }

    /// Sends the prepared postings to the writer as one group (holding one queue place of the
    /// caller) and merges its answers with the refusals decided before it.
    async fn post_prepared(
        &self,
        scope: &str,
        prepared: Vec<Prepared>,
        atomic: bool,
    ) -> Result<Vec<BatchResult>> {
        let place = self.ledger_admission.place(scope)?;
        let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(prepared.len());
        let mut requests = Vec::new();
        let mut kinds = Vec::new();
        for item in prepared {
            match item {
                Ok((request, kind)) => {
                    results.push(None);
                    kinds.push(kind);
                    requests.push(request);
                }
                Err(code) => results.push(Some(BatchResult::Refused { code })),
            }
        }
        let ids: Vec<String> = requests
            .iter()
            .map(|request| request.transfer_id.clone())
            .collect();
        let writer = self.writer.clone();
        let answers = tokio::spawn(async move {
            let answers = writer.post_group(requests, atomic).await;
            drop(place);
            answers
        })
        .await
        .map_err(|_| Error::Internal)?
        .map_err(|_| Error::Unavailable {
            retry_after_secs: WRITER_BUSY_RETRY_AFTER_SECS,
        })?;
        let mut answers = answers.into_iter().zip(ids).zip(kinds);
        for slot in &mut results {
            if slot.is_some() {
                continue;
            }
            let ((answer, id), kind) = answers.next().ok_or(Error::Internal)?;
            if !atomic && matches!(answer, Ok(PostingOutcome::Posted)) {
                metrics::counter!("strongroom_transfers_posted_total", "kind" => kind.as_str())
                    .increment(1);
            }
            *slot = Some(result_of(answer, id));
        }
        let results: Vec<BatchResult> = results.into_iter().flatten().collect();
        if atomic
            && results
                .iter()
                .all(|r| matches!(r, BatchResult::Posted { .. }))
        {
            metrics::counter!("strongroom_transfers_posted_total", "kind" => "batch")
                .increment(results.len() as u64);
        }
        Ok(results)
    }

    /// Validates one posting (a malformed one fails the whole batch, naming its index) and
    /// builds its writer request, or the refusal decided without the writer.
    async fn prepare(
        &self,
        ctx: &RequestContext,
        scope: &str,
        index: usize,
        posting: BatchPosting,
        created_at: i64,
    ) -> Result<Prepared> {
        let field = |name: &str, code: &'static str| {
            Error::field(&format!("postings[{index}].{name}"), code)
        };
        let key = IdempotencyKey::parse(&posting.idempotency_key)
            .ok_or_else(|| field("idempotency_key", "invalid"))?;
        let money = amount(posting.amount).map_err(|_| field("amount", "out_of_range"))?;
        let currency = self
            .currency(&posting.currency)
            .map_err(|_| field("currency", "unsupported_currency"))?;
        if posting.memo.as_ref().is_some_and(|memo| {
            memo.chars().count() > MEMO_CHARS_MAX || memo.chars().any(char::is_control)
        }) {
            return Err(field("memo", "invalid"));
        }
        if posting.external_ref.as_ref().is_some_and(|external_ref| {
            external_ref.is_empty() || external_ref.chars().count() > EXTERNAL_REF_CHARS_MAX
        }) {
            return Err(field("external_ref", "length"));
        }
        let settlement = format!("settlement-{}", currency.as_str());
        let (kind, from, to) =
            sides(&posting, settlement).map_err(|(name, code)| field(name, code))?;
        if let Some(code) = self
            .refused_before_writer(kind, &from, money.minor_units())
            .await?
        {
            return Ok(Err(code));
        }
        let hash = super::request_hash(BATCH_OPERATION, &posting)?;
        let posting = Posting {
            kind,
            from,
            to,
            amount: money,
            currency,
            memo: posting.memo,
            external_ref: posting.external_ref,
            initiated_by: scope.to_owned(),
            source_owner: None,
            reverses: None,
        };
        let (request, _receipt) =
            posting_request(ctx, scope.to_owned(), key, hash, posting, created_at)?;
        Ok(Ok((request, kind)))
    }

    /// What the single endpoints refuse before the writer: an account id no account can have,
    /// a movement out of an account above `ledger.four_eyes_amount` (never in a batch: a
    /// withdrawal is filed alone for approval), and a withdrawal from an owner without a
    /// verified email where that is required.
    async fn refused_before_writer(
        &self,
        kind: PostingKind,
        from: &str,
        amount: i64,
    ) -> Result<Option<&'static str>> {
        if from.len() > ID_CHARS_MAX {
            return Ok(Some("not_found"));
        }
        // Money in from outside needs no second pair of eyes; every movement a service makes
        // out of someone else's account (a customer's or the operator's) does above the
        // threshold: file it alone (a withdrawal) or split the business differently.
        if kind == PostingKind::Deposit {
            return Ok(None);
        }
        if amount > self.ledger.four_eyes_amount {
            return Ok(Some("approval_required"));
        }
        if kind != PostingKind::Withdrawal {
            return Ok(None);
        }
        if self.auth.require_verified_email
            && let Some(owner) = self
                .store
                .find_account(from)
                .await?
                .and_then(|account| account.user_id)
            && self.require_verified_email(&owner).await.is_err()
        {
            return Ok(Some("email_unverified"));
        }
        Ok(None)
    }
}

/// The posting's kind and (source, destination): a transfer, fee or rebate names both
/// accounts (a fee's destination, a rebate's source, is an operator account); a deposit
/// or withdrawal names its customer account, against `settlement`. A member the kind does not
/// take, or one it needs missing: (member, code).
fn sides(
    posting: &BatchPosting,
    settlement: String,
) -> std::result::Result<(PostingKind, String, String), (&'static str, &'static str)> {
    let present = |name, value: &Option<String>| match value {
        Some(_) => Err((name, "not_allowed")),
        None => Ok(()),
    };
    let required = |name, value: &Option<String>| value.clone().ok_or((name, "required"));
    match posting.kind {
        BatchKind::Transfer | BatchKind::Fee | BatchKind::Rebate => {
            present("account_id", &posting.account_id)?;
            let from = required("from_account_id", &posting.from_account_id)?;
            let to = required("to_account_id", &posting.to_account_id)?;
            let kind = match posting.kind {
                BatchKind::Fee => PostingKind::Fee,
                BatchKind::Rebate => PostingKind::Rebate,
                _ => PostingKind::Transfer,
            };
            Ok((kind, from, to))
        }
        BatchKind::Deposit | BatchKind::Withdrawal => {
            present("from_account_id", &posting.from_account_id)?;
            present("to_account_id", &posting.to_account_id)?;
            required("external_ref", &posting.external_ref)?;
            let account = required("account_id", &posting.account_id)?;
            Ok(if posting.kind == BatchKind::Deposit {
                (PostingKind::Deposit, settlement, account)
            } else {
                (PostingKind::Withdrawal, account, settlement)
            })
        }
    }
}

/// The result of one posting from the writer's answer.
fn result_of(answer: std::result::Result<PostingOutcome, WriteError>, id: String) -> BatchResult {
    let refused = |code| BatchResult::Refused { code };
    match answer {
        Ok(PostingOutcome::Posted) => BatchResult::Posted { id },
        Ok(PostingOutcome::Replayed { body }) => {
            // The stored answer is the receipt of the first attempt: its id is the transfer's.
            match serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|receipt| receipt.get("id")?.as_str().map(str::to_owned))
            {
                Some(id) => BatchResult::Posted { id },
                None => refused("internal_error"),
            }
        }
        Ok(PostingOutcome::KeyReused) => refused("idempotency_key_reused"),
        Ok(PostingOutcome::KeyInProgress) => refused("request_in_progress"),
        Ok(PostingOutcome::Refused(refusal) | PostingOutcome::RefusedBefore(refusal)) => {
            refused(refusal.code())
        }
        Err(WriteError::Busy | WriteError::Unavailable) => refused("service_unavailable"),
        Err(WriteError::Failed) => refused("internal_error"),
    }
}
