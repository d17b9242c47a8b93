//! Wire types of a service's batch of postings (`POST /internal/v1/transfers/batch`). The
//! list of postings is read with a bound: past `BATCH_POSTINGS_MAX` the rest is only counted,
//! never held, so an oversized batch costs no more memory than a full one.

use std::fmt;

use app::ledger::batch::{BatchKind, BatchPosting, BatchResult};
use app::limits::BATCH_POSTINGS_MAX;
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    #[serde(default)]
    pub atomic: bool,
    pub postings: BoundedPostings,
}

/// At most `BATCH_POSTINGS_MAX` postings, and how many the request held.
pub struct BoundedPostings {
    pub items: Vec<BatchPostingBody>,
    pub count: usize,
}

impl<'de> Deserialize<'de> for BoundedPostings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bounded;
        impl<'de> Visitor<'de> for Bounded {
            type Value = BoundedPostings;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a list of postings")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BoundedPostings, A::Error> {
                let mut items = Vec::new();
                while items.len() < BATCH_POSTINGS_MAX {
                    match seq.next_element()? {
                        Some(item) => items.push(item),
                        None => {
                            let count = items.len();
                            return Ok(BoundedPostings { items, count });
                        }
                    }
                }
                let mut count = items.len();
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    count = count.saturating_add(1);
                }
                Ok(BoundedPostings { items, count })
            }
        }
        deserializer.deserialize_seq(Bounded)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchKindBody {
    Transfer,
    Deposit,
    Withdrawal,
    Fee,
    Rebate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchPostingBody {
    pub kind: BatchKindBody,
    pub idempotency_key: String,
    #[serde(default)]
    pub from_account_id: Option<String>,
    #[serde(default)]
    pub to_account_id: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    /// Minor units, 1 to 10^15.
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub external_ref: Option<String>,
    #[serde(default)]
    pub memo: Option<String>,
}

impl From<BatchPostingBody> for BatchPosting {
    fn from(body: BatchPostingBody) -> BatchPosting {
        BatchPosting {
            kind: match body.kind {
                BatchKindBody::Transfer => BatchKind::Transfer,
                BatchKindBody::Deposit => BatchKind::Deposit,
                BatchKindBody::Withdrawal => BatchKind::Withdrawal,
                BatchKindBody::Fee => BatchKind::Fee,
                BatchKindBody::Rebate => BatchKind::Rebate,
            },
            idempotency_key: body.idempotency_key,
            from_account_id: body.from_account_id,
            to_account_id: body.to_account_id,
            account_id: body.account_id,
            amount: body.amount,
            currency: body.currency,
            external_ref: body.external_ref,
            memo: body.memo,
        }
    }
}

/// `{results: [...]}`, one per posting in request order.
#[derive(Serialize)]
pub struct BatchResponse {
    pub results: Vec<BatchResultView>,
}

/// `{index, status: "posted", id}` or `{index, status: "refused", code}`.
#[derive(Serialize)]
pub struct BatchResultView {
    pub index: usize,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

impl BatchResponse {
    pub fn of(results: Vec<BatchResult>) -> BatchResponse {
        BatchResponse {
            results: results
                .into_iter()
                .enumerate()
                .map(|(index, result)| match result {
                    BatchResult::Posted { id } => BatchResultView {
                        index,
                        status: "posted",
                        id: Some(id),
                        code: None,
                    },
                    BatchResult::Refused { code } => BatchResultView {
                        index,
                        status: "refused",
                        id: None,
                        code: Some(code),
                    },
                })
                .collect(),
        }
    }
}
