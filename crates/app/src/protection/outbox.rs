//! The notifications outbox: what the operator's delivery service (scope
//! `notifications:read`) drains in id order and acknowledges. Delivery is at-least-once: a
//! page is served until it is acknowledged, and never after.

use store::NotificationRecord;

use crate::identity::session::Page;
use crate::{App, Error, RequestContext, Result};

pub const OUTBOX_SCOPE: &str = "notifications:read";

/// An outbox cursor or acknowledgement: the decimal id of a notification.
fn parse_id(raw: &str) -> Option<i64> {
    let well_formed = !raw.is_empty() && raw.len() <= 19 && raw.bytes().all(|b| b.is_ascii_digit());
    well_formed.then(|| raw.parse().ok()).flatten()
}

impl App {
    /// Up to `limit` notifications after the cursor `after` (none: from the oldest
    /// unacknowledged).
    pub async fn outbox(
        &self,
        ctx: &RequestContext,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Page<NotificationRecord>> {
        ctx.service(OUTBOX_SCOPE)?;
        let after = match after {
            Some(raw) => parse_id(raw).ok_or_else(|| Error::invalid_input("Malformed cursor."))?,
            None => 0,
        };
        let rows = self
            .store
            .outbox_page(after, limit.saturating_add(1))
            .await?;
        let limit = usize::try_from(limit).unwrap_or(0);
        let more = rows.len() > limit;
        let mut items = rows;
        items.truncate(limit);
        let next_cursor = more
            .then(|| items.last().map(|item| item.id.to_string()))
            .flatten();
        Ok(Page { items, next_cursor })
    }

    /// Acknowledges every notification up to and including `up_to`.
    pub async fn ack_outbox(&self, ctx: &RequestContext, up_to: &str) -> Result<()> {
        let service = ctx.service(OUTBOX_SCOPE)?;
        let up_to = parse_id(up_to).ok_or_else(|| Error::field("up_to", "invalid"))?;
        // The notice of a closed account holds its old address: once it is delivered, the
        // address leaves the SQLite log too.
        let closing_notices = self.store.closing_notices_up_to(up_to).await?;
        let acknowledged = self
            .store
            .ack_outbox(up_to)
            .await?
            .ok_or_else(|| Error::field("up_to", "unknown"))?;
        tracing::info!(
            service = service.name,
            up_to,
            acknowledged,
            "outbox acknowledged"
        );
        if closing_notices {
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(error) = store.truncate_log().await {
                    tracing::warn!(%error, "cannot truncate the log after a closing notice");
                }
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_plain_decimal_numbers() {
        assert_eq!(super::parse_id("42"), Some(42));
        assert_eq!(super::parse_id("0"), Some(0));
        for bad in ["", "-1", "+1", "1e3", "99999999999999999999", "0x10", " 1"] {
            assert_eq!(super::parse_id(bad), None, "{bad}");
        }
    }
}
