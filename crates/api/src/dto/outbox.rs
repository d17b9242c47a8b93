//! The notifications outbox and the ledger event stream (internal listener).

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

/// `{token}` of `POST /internal/v1/introspect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest {
    pub token: String,
}

/// RFC 7662: `{"active": false}` alone for a token that is not active; otherwise its claims.
#[derive(Debug, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The session the token belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl Introspection {
    pub fn inactive() -> Self {
        Introspection {
            active: false,
            token_type: None,
            sub: None,
            sid: None,
            iss: None,
            aud: None,
            iat: None,
            exp: None,
            auth_time: None,
            acr: None,
            roles: None,
        }
    }
}

/// `?after=&limit=` of `GET /internal/v1/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// The last event id the consumer handled (`next_after` of the previous page); none: 0,
    /// the beginning.
    pub after: Option<i64>,
    /// 1–1,000 (default 100).
    pub limit: Option<i64>,
}

/// A posted transfer, as an event announces it.
#[derive(Debug, Serialize)]
pub struct EventTransfer {
    pub id: String,
    pub kind: String,
    pub from_account_id: String,
    pub to_account_id: String,
    pub amount: i64,
    pub currency: String,
    pub external_ref: Option<String>,
    /// A reversal: the transfer it reversed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverses: Option<String>,
}

/// One ledger event: `{id, type, created_at}` and the `transfer` or `account_id` it is about.
#[derive(Debug, Serialize)]
pub struct EventView {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<EventTransfer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_id: Option<String>,
}

impl From<store::LedgerEvent> for EventView {
    fn from(event: store::LedgerEvent) -> EventView {
        let transfer = match (
            event.transfer_id,
            event.transfer_kind,
            event.from_account_id,
            event.to_account_id,
            event.amount,
            event.currency,
        ) {
            (Some(id), Some(kind), Some(from), Some(to), Some(amount), Some(currency)) => {
                Some(EventTransfer {
                    id,
                    kind,
                    from_account_id: from,
                    to_account_id: to,
                    amount,
                    currency,
                    external_ref: event.external_ref,
                    reverses: event.reverses,
                })
            }
            _ => None,
        };
        EventView {
            id: event.id,
            kind: event.kind,
            created_at: app::rfc3339(event.created_at),
            transfer,
            account_id: event.account_id,
            hold_id: event.hold_id,
        }
    }
}

/// A page of events and the position to ask from next (the last id, or `after` when empty).
#[derive(Debug, Serialize)]
pub struct EventList {
    pub items: Vec<EventView>,
    pub next_after: i64,
}
