//! Wire types of the account lifecycle: forgotten and changed passwords, email verification
//! and change, and the data export.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AccountView, EntryView, Me, ProfileView, SecurityEvent, SessionView};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ann@example.com"}))]
pub struct ForgotPasswordRequest {
    /// The account's email address; the answer is the same whether or not it has one.
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "mE1y0u-8q1Jx3D1rJ3bqk0Yl1cVj7cQ9yqz9JtP8b0E", "new_password": "a new and long passphrase"}))]
pub struct ResetPasswordRequest {
    /// The token from the `password_reset` notification.
    #[schema(max_length = 64)]
    pub token: String,
    /// 12 to 256 characters, not common or built from the email or display name.
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"current_password": "correct horse battery staple", "new_password": "a new and long passphrase"}))]
pub struct ChangePasswordRequest {
    #[schema(max_length = 256)]
    pub current_password: String,
    /// 12 to 256 characters, not common or built from the email or display name.
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "mE1y0u-8q1Jx3D1rJ3bqk0Yl1cVj7cQ9yqz9JtP8b0E"}))]
pub struct VerifyEmailRequest {
    /// The token from the `verify_email` notification.
    #[schema(max_length = 64)]
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"new_email": "ann@example.org"}))]
pub struct ChangeEmailRequest {
    /// The new address (or the current one, to be sent a new verification token).
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub new_email: String,
}

/// One ledger account and its entries, oldest first.
#[derive(Serialize, ToSchema)]
pub struct ExportAccount {
    pub account: AccountView,
    pub entries: Vec<EntryView>,
}

/// Everything Strongroom holds about the signed-in user.
#[derive(Serialize, ToSchema)]
pub struct DataExport {
    pub exported_at: String,
    pub user: Me,
    /// Decrypted; the national id in clear when the step-up is at most five minutes old.
    pub profile: Option<ProfileView>,
    /// Live sessions, newest first.
    pub sessions: Vec<SessionView>,
    /// Security events, newest first.
    pub security_events: Vec<SecurityEvent>,
    pub accounts: Vec<ExportAccount>,
    /// A list was longer than 100 000 items and was cut there.
    pub truncated: bool,
}

impl DataExport {
    pub fn of(export: app::identity::closing::Export, me: Me, session: &str, now_ms: i64) -> Self {
        DataExport {
            exported_at: app::rfc3339(now_ms),
            user: me,
            profile: export.profile.map(Into::into),
            sessions: export
                .sessions
                .into_iter()
                .map(|s| SessionView::of(s, session))
                .collect(),
            security_events: export.events.into_iter().map(Into::into).collect(),
            accounts: export
                .accounts
                .into_iter()
                .map(|(account, entries)| ExportAccount {
                    account: account.into(),
                    entries: entries.into_iter().map(Into::into).collect(),
                })
                .collect(),
            truncated: export.truncated,
        }
    }
}
