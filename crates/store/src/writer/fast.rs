//! The PostgreSQL fast path: a batch in one round trip. While nobody else writes, the
//! writer's cache and heads are exactly what the database holds after its last commit, so it
//! can decide the next batch before asking the database anything, and send the decision with
//! what it assumed (the heads, and that none of the batch's keys, references or reversed
//! transfers is stored) to `strongroom_ledger_post_batch` (migration 0021). The function
//! checks the assumptions under the head locks and writes only if they hold; the statement
//! runs in autocommit, so its answer comes after the commit. When an assumption fails, nothing
//! is written and the batch takes the general path, which reads everything under the locks.

use super::reads::{key_lookups, missing_accounts, ref_lookups};
use super::sql::{BatchSql, FastAnswer, Lookups};
use super::{
    PostingOutcome, PostingRequest, SLOW_BATCH, StoreError, Writer, decide, rows, touched,
    writes_anything,
};
use crate::limits::{WRITER_CACHE_ACCOUNTS_MAX, WRITER_FAST_PATH_BACKOFF_BATCHES};

/// Posts the batch on the fast path: `None` when it does not apply or its assumptions failed
/// (nothing was written; the general path must decide the batch). After finding that someone
/// else wrote, the next `WRITER_FAST_PATH_BACKOFF_BATCHES` batches go the general way.
pub(super) async fn post<C: BatchSql>(
    conn: &mut C,
    writer: &mut Writer,
    requests: &[&PostingRequest],
    atomic: bool,
) -> Result<Option<Vec<PostingOutcome>>, StoreError> {
    if writer.fast_backoff > 0 {
        writer.fast_backoff -= 1;
        return Ok(None);
    }
    let Some(heads) = writer.heads.clone() else {
        return Ok(None);
    };
    // Every account must be cached: one read outside the locks could not be trusted.
    if writer.accounts.len() > WRITER_CACHE_ACCOUNTS_MAX
        || !missing_accounts(&writer.accounts, requests).is_empty()
    {
        return Ok(None);
    }
    let decision = decide(
        &writer.accounts,
        &[],
        &[],
        (heads.ledger.0, &heads.ledger.1),
        requests,
    )?;
    // A batch that writes nothing or is rolled back was decided as if no key were stored,
    // which only the general path can confirm.
    if !writes_anything(&decision, atomic) {
        return Ok(None);
    }
    let writes = rows::writes(
        &decision,
        (heads.ledger.0, &heads.ledger.1),
        heads.audit.clone(),
    )?;
    let (refs, reversals) = ref_lookups(requests);
    let lookups = Lookups {
        keys: key_lookups(requests)?,
        refs: rows::to_json(&refs)?,
        reversals: rows::to_json(&reversals)?,
    };
    let started = std::time::Instant::now();
    let answer = conn.post_batch(&heads, &lookups, &writes).await?;
    let took = started.elapsed();
    if took >= SLOW_BATCH {
        tracing::warn!(
            postings = requests.len(),
            total_us = took.as_micros(),
            "slow ledger batch (one round trip)"
        );
    }
    let label = match answer {
        FastAnswer::Posted => "posted",
        FastAnswer::Stale => "stale",
        FastAnswer::Stored => "stored",
    };
    metrics::counter!("strongroom_ledger_fast_batches_total", "answer" => label).increment(1);
    match answer {
        FastAnswer::Posted => {}
        FastAnswer::Stale => {
            writer.fast_backoff = WRITER_FAST_PATH_BACKOFF_BATCHES;
            return Ok(None);
        }
        FastAnswer::Stored => return Ok(None),
    }
    let Some(generation) = heads.generation.checked_add(1) else {
        return Err(StoreError::Invariant("ledger generation exhausted"));
    };
    writer.committed(writes.heads_after(generation), touched(decision.touched));
    Ok(Some(decision.outcomes))
}
