//! The notifications outbox (internal listener).

use serde::{Deserialize, Serialize};

/// `?after=&limit=` of `GET /internal/v1/outbox`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// `next_cursor` of the previous page; none: from the oldest unacknowledged.
    pub after: Option<String>,
    /// 1–500 (default 100).
    pub limit: Option<i64>,
}

/// `{up_to}` of `POST /internal/v1/outbox/ack`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxAck {
    pub up_to: String,
}

#[derive(Debug, Serialize)]
pub struct NotificationView {
    pub id: String,
    pub user_id: String,
    /// `account_quarantined`, `new_device`, …
    pub kind: String,
    pub created_at: String,
    /// Ids and labels (`reason`, `location`, `device`); for mails the account lifecycle
    /// sends (`verify_email`, `password_reset`, `email_changed`, `email_change_requested`),
    /// also the address to write to (`to`) and, for the first two, the single-use `token`.
    pub data: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct NotificationList {
    pub items: Vec<NotificationView>,
    pub next_cursor: Option<String>,
}

impl From<store::NotificationRecord> for NotificationView {
    fn from(record: store::NotificationRecord) -> NotificationView {
        NotificationView {
            id: record.id.to_string(),
            user_id: record.user_id,
            kind: record.kind,
            created_at: app::rfc3339(record.created_at),
            data: serde_json::from_str(&record.data).unwrap_or(serde_json::Value::Null),
        }
    }
}
