//! What a posting must pass before it may wait in the ledger writer's queue: the source
//! account must be the caller's (a foreign or unknown source is refused here, without taking
//! a queue place — the writer still checks again against the state it posts on), and no
//! caller may hold more than `WRITER_QUEUE_PER_CALLER_MAX` places at once, so one flooding
//! customer or service gets 429s while everyone else's postings still find room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::limits::{ACCOUNT_OWNERS_CACHED_MAX, WRITER_QUEUE_PER_CALLER_MAX};
use crate::{App, Error, Result};

#[derive(Debug, Default)]
pub struct Admission {
    /// Account id → owning user (`None`: an operator account). Owners never change.
    owners: Mutex<HashMap<String, Option<String>>>,
    /// Caller scope → postings of it in the writer's queue or batch.
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

/// A caller's place in the writer's queue; given back when dropped.
#[derive(Debug)]
pub struct QueuePlace {
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
    scope: String,
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        if let Ok(mut map) = self.in_flight.lock()
            && let Some(count) = map.get_mut(&self.scope)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&self.scope);
            }
        }
    }
}

impl Admission {
    /// A place for one more posting of `scope`, or 429 when it holds its share already.
    pub fn place(&self, scope: &str) -> Result<QueuePlace> {
        let mut map = self.in_flight.lock().map_err(|_| Error::Internal)?;
        let count = map.entry(scope.to_owned()).or_insert(0);
        if *count >= WRITER_QUEUE_PER_CALLER_MAX {
            metrics::counter!("strongroom_writer_caller_share_refused_total").increment(1);
            return Err(Error::RateLimited {
                retry_after_secs: 1,
                limit: u32::try_from(WRITER_QUEUE_PER_CALLER_MAX).unwrap_or(u32::MAX),
            });
        }
        *count = count.saturating_add(1);
        Ok(QueuePlace {
            in_flight: self.in_flight.clone(),
            scope: scope.to_owned(),
        })
    }

    fn cached_owner(&self, account_id: &str) -> Option<Option<String>> {
        self.owners.lock().ok()?.get(account_id).cloned()
    }

    fn remember_owner(&self, account_id: &str, owner: Option<String>) {
        if let Ok(mut owners) = self.owners.lock() {
            if owners.len() >= ACCOUNT_OWNERS_CACHED_MAX {
                owners.clear();
            }
            owners.insert(account_id.to_owned(), owner);
        }
    }
}

impl App {
    /// `NotFound` unless account `account_id` exists and belongs to `user_id`.
    pub(crate) async fn require_source_owner(&self, account_id: &str, user_id: &str) -> Result<()> {
        let admission = &self.ledger_admission;
        let owner = match admission.cached_owner(account_id) {
            Some(owner) => owner,
            None => {
                let account = self
                    .store
                    .find_account(account_id)
                    .await?
                    .ok_or(Error::NotFound)?;
                admission.remember_owner(account_id, account.user_id.clone());
                account.user_id
            }
        };
        if owner.as_deref() == Some(user_id) {
            Ok(())
        } else {
            metrics::counter!("strongroom_foreign_source_refused_total").increment(1);
            Err(Error::NotFound)
        }
    }
}

#[cfg(test)]
mod tests;
