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
