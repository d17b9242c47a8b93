//! What `ledger verify` reads to check holds (`ledger::holds::HoldCheck`): every hold with its
//! capture's transfer, the holds' audit records, the `capture` transfers and every account,
//! all in one snapshot.

use super::HoldRecord;
use crate::{Pool, Store, StoreError, on_pool};

/// What `ledger verify` checks holds with, from one snapshot (`Store::hold_snapshot`).
#[derive(Debug, Clone)]
pub struct HoldSnapshot {
    pub holds: Vec<HoldCheckRecord>,
    /// `(target, action, actor, details)` of every `ledger.hold*` audit record.
    pub audit: Vec<(String, String, String, String)>,
    pub captures: i64,
    pub accounts: Vec<crate::AccountRecord>,
}

/// A hold with its capture's transfer row, for `ledger verify`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HoldCheckRecord {
    #[sqlx(flatten)]
    pub hold: HoldRecord,
    pub t_kind: Option<String>,
    pub t_from: Option<String>,
    pub t_amount: Option<i64>,
    pub t_currency: Option<String>,
}

impl HoldCheckRecord {
    /// The hold as `ledger::holds::HoldCheck` reads it.
    pub fn stored(&self) -> ledger::holds::StoredHold<'_> {
        let capture = match (&self.t_kind, &self.t_from, self.t_amount, &self.t_currency) {
            (Some(kind), Some(from), Some(amount), Some(currency)) => {
                Some((kind.as_str(), from.as_str(), amount, currency.as_str()))
            }
            _ => None,
        };
        ledger::holds::StoredHold {
            id: &self.hold.id,
            account_id: &self.hold.account_id,
            amount: self.hold.amount,
            currency: &self.hold.currency,
            status: &self.hold.status,
            expires_at: self.hold.expires_at,
            initiated_by: &self.hold.initiated_by,
            captured_amount: self.hold.captured_amount,
            capture,
        }
    }
}

impl Store {
    /// Everything `ledger verify` checks holds with, read in one snapshot (so a hold placed
    /// or closed meanwhile is seen with its audit record or not at all): every hold with its
    /// capture's transfer, the holds' audit records `(target, action, actor, details)`, the
    /// `capture` transfers counted, and every account.
    pub async fn hold_snapshot(&self) -> Result<HoldSnapshot, StoreError> {
        let holds = "SELECT h.id, h.account_id, h.amount, h.currency, h.status, h.expires_at, \
                     h.initiated_by, h.created_at, h.captured_amount, h.transfer_id, h.closed_at, \
                     t.kind AS t_kind, t.from_account_id AS t_from, t.amount AS t_amount, \
                     t.currency AS t_currency FROM holds AS h \
                     LEFT JOIN transfers AS t ON t.id = h.transfer_id ORDER BY h.id";
        let audit = "SELECT target, action, actor_kind || ':' || actor_id, details FROM audit_log \
                     WHERE action IN ('ledger.hold', 'ledger.hold.void', 'ledger.hold.expire') \
                     AND outcome = 'success' ORDER BY seq";
        let captures = "SELECT count(*) FROM transfers WHERE kind = 'capture'";
        let accounts = "SELECT id, user_id, kind, currency, balance, held, status, created_at, \
                        name FROM accounts ORDER BY id";
        let snapshot = match &self.pool {
            Pool::Postgres(_) => "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            Pool::Sqlite(_) => "SELECT 1",
        };
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(snapshot).execute(&mut *tx).await?;
            let snapshot = HoldSnapshot {
                holds: sqlx::query_as(holds).fetch_all(&mut *tx).await?,
                audit: sqlx::query_as(audit).fetch_all(&mut *tx).await?,
                captures: sqlx::query_scalar(captures).fetch_one(&mut *tx).await?,
                accounts: sqlx::query_as(accounts).fetch_all(&mut *tx).await?,
            };
            tx.commit().await?;
            snapshot
        }))
    }
}
