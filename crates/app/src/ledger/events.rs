//! The ledger event stream for services (scope `ledger:events`): every posted transfer and
//! every freeze, in commit order, from a position the consumer keeps. Delivery is
//! at-least-once: a consumer that stores its position after handling a page sees, after a
//! crash, at most the events it handled but had not recorded.

use store::LedgerEvent;

use crate::limits::EVENTS_PAGE_LEN_MAX;
use crate::{App, Error, RequestContext, Result};

/// The scope that reads the stream.
pub const EVENTS_SCOPE: &str = "ledger:events";

impl App {
    /// Up to `limit` (1..=`EVENTS_PAGE_LEN_MAX`) events after position `after`.
    pub async fn ledger_events(
        &self,
        ctx: &RequestContext,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LedgerEvent>> {
        ctx.service(EVENTS_SCOPE)?;
        if after < 0 {
            return Err(Error::field("after", "out_of_range"));
        }
        if !(1..=EVENTS_PAGE_LEN_MAX).contains(&limit) {
            return Err(Error::field("limit", "out_of_range"));
        }
        Ok(self.store.ledger_events_after(after, limit).await?)
    }
}
