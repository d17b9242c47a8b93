//! Passwords after sign-up: the forgotten-password flow (a single-use token delivered
//! through the outbox; `forgot` answers the same, in the same time, for every address) and
//! changing the password with the current one. Both revoke sessions and tell the owner;
//! neither touches second factors (the next sign-in still asks for one).

use identity::Email;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use store::{Announcement, NotificationRecord, UserTokenRecord};

use super::{STATUS_CLOSED, check_password_policy};
use crate::{App, Error, RequestContext, Result};

/// How long a password-reset token lives.
pub const PASSWORD_RESET_TTL_MS: i64 = 30 * 60 * 1000;
/// How long a known address's reset token waits before it is written: until its answer has
/// left, so that the write (a transaction and its fsync) does not compete with the answer
/// for the CPU and make known addresses measurably slower to answer than unknown ones.
pub const RESET_WRITE_DELAY: std::time::Duration = std::time::Duration::from_millis(20);
pub(crate) const PURPOSE_RESET: &str = "password_reset";

/// A fresh single-use token (256 random bits, base64url) and its stored SHA-256.
pub(crate) fn new_user_token() -> Result<(SecretString, Vec<u8>)> {
    identity::refresh::new_refresh_token().map_err(|_| Error::Internal)
}

/// The stored form of a presented token, or `None` for a value that cannot be one.
pub(crate) fn user_token_hash(token: &str) -> Option<Vec<u8>> {
    identity::refresh::is_plausible_refresh_token(token)
        .then(|| identity::refresh::hash_refresh_token(&SecretString::from(token.to_owned())))
}

impl App {
    /// `POST /v1/auth/password/forgot`: throttled per address and per client network, then
    /// the same answer whether or not the address belongs to an account. For one that does,
    /// a reset token replaces any live one and goes to the outbox (`password_reset`), written
    /// off the response path so both cases take the same time.
    pub async fn forgot_password(&self, ctx: &RequestContext, raw_email: &str) -> Result<()> {
        // The address as the account lookup sees it (NFKC, lower case): look-alike spellings
        // of one address share its budget.
        let parsed = Email::parse(raw_email).ok();
        let key = super::throttle_key(raw_email, parsed.as_ref());
        self.identity.throttles.mail(&key, ctx.ip)?;
        let email = parsed.ok_or_else(|| Error::field("email", "invalid"))?;
        // Every request builds its token and records; only a known address writes them.
        let (token, token_hash) = new_user_token()?;
        let user = self.store.find_user_by_email(email.as_str()).await?;
        let Some(user) = user.filter(|user| user.status != STATUS_CLOSED) else {
            return Ok(());
        };
        let now = self.clock.now_ms();
        let expires_at = now.saturating_add(PASSWORD_RESET_TTL_MS);
        let record = UserTokenRecord {
            token_hash,
            user_id: user.id.clone(),
            purpose: PURPOSE_RESET.to_owned(),
            email: user.email.clone(),
            created_at: now,
            expires_at,
        };
        let notification = self.token_notification(&record, PURPOSE_RESET, token);
        let audit = self.audit_entry(
            ctx,
            "security.password_reset_requested",
            &format!("user:{}", user.id),
            "success",
            json!({}),
        );
        let store = self.store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RESET_WRITE_DELAY).await;
            if let Err(error) = store.issue_user_token(&record, &notification, &audit).await {
                tracing::error!(%error, "a password-reset token could not be stored");
            }
        });
        Ok(())
    }

    /// `POST /v1/auth/password/reset`: a live reset token sets a new password (policy
    /// checked) and revokes every session of the user. Second factors stay.
    pub async fn reset_password(
        &self,
        ctx: &RequestContext,
        token: &str,
        new_password: SecretString,
    ) -> Result<()> {
        self.identity.throttles.refresh(ctx.ip)?;
        let hash = user_token_hash(token).ok_or(Error::InvalidResetToken)?;
        let record = self
            .store
            .find_user_token(&hash, PURPOSE_RESET, self.clock.now_ms())
            .await?
            .ok_or(Error::InvalidResetToken)?;
        let user = self
            .store
            .find_user(&record.user_id)
            .await?
            .ok_or(Error::InvalidResetToken)?;
        check_password_policy(
            "new_password",
            new_password.expose_secret(),
            &user.email,
            &user.display_name,
        )?;
        let admission = self.identity.hashing.admit().await?;
        let password_hash = self.identity.hashing.hash(admission, new_password).await?;
        let event = self.event(ctx, &user.id, "password_reset", None);
        let notification = self.changed_notification(&user.id, &event, "password_reset");
        let announcement = Announcement {
            event: &event,
            notifications: std::slice::from_ref(&notification),
        };
        let revoked = self
            .store
            .reset_password(&record, &password_hash, event.created_at, &announcement)
            .await?
            .ok_or(Error::InvalidResetToken)?;
        for session in &revoked {
            self.session_revoked(session);
        }
        self.user_changed(&user.id);
        Ok(())
    }

    /// `POST /v1/me/password`: the current password (and, with a second factor enrolled, a
    /// fresh step-up) sets a new one; every other session is revoked.
    pub async fn change_password(
        &self,
        ctx: &RequestContext,
        current: SecretString,
        new_password: SecretString,
    ) -> Result<()> {
        let caller = ctx.caller()?;
        let user_id = caller.user_id.as_str();
        if self.has_any_factor(user_id).await? {
            self.require_step_up(ctx)?;
        }
        let user = self
            .store
            .find_user(user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        check_password_policy(
            "new_password",
            new_password.expose_secret(),
            &user.email,
            &user.display_name,
        )?;
        self.reauthenticate(ctx, user_id, current).await?;
        let admission = self.identity.hashing.admit().await?;
        let password_hash = self.identity.hashing.hash(admission, new_password).await?;
        let session = caller.session_id.as_str();
        let event = self.event(ctx, user_id, "password_changed", Some(session));
        let notification = self.changed_notification(user_id, &event, "password_changed");
        let announcement = Announcement {
            event: &event,
            notifications: std::slice::from_ref(&notification),
        };
        let revoked = self
            .store
            .change_password(
                user_id,
                session,
                &password_hash,
                event.created_at,
                &announcement,
            )
            .await?;
        for session in &revoked {
            self.session_revoked(session);
        }
        Ok(())
    }

    /// The outbox item that delivers a token: the address to write to, the token, its expiry.
    pub(crate) fn token_notification(
        &self,
        record: &UserTokenRecord,
        kind: &str,
        token: SecretString,
    ) -> NotificationRecord {
        NotificationRecord {
            id: 0,
            user_id: record.user_id.clone(),
            kind: kind.to_owned(),
            created_at: record.created_at,
            data: json!({
                "to": record.email,
                "token": token.expose_secret(),
                "expires_at": crate::rfc3339(record.expires_at),
            })
            .to_string(),
        }
    }

    /// `password_changed` for the owner: how it changed, from where.
    fn changed_notification(
        &self,
        user_id: &str,
        event: &store::SecurityEventRecord,
        change: &str,
    ) -> NotificationRecord {
        NotificationRecord {
            id: 0,
            user_id: user_id.to_owned(),
            kind: "password_changed".to_owned(),
            created_at: event.created_at,
            data: json!({
                "change": change,
                "location": event.location,
                "device": crate::protection::Device::parse(&event.user_agent).label(),
            })
            .to_string(),
        }
    }
}
