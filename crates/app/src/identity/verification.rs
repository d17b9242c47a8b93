//! Email addresses: verification at registration (a token in the outbox, `verify_email`),
//! changing the address (step-up; a token to the new address, a notice to the old one; the
//! old address stays the login name until the new one is verified), and the rule that money
//! leaves only verified accounts when `auth.require_verified_email` is on.

use identity::Email;
use secrecy::SecretString;
use serde_json::json;
use store::{Announcement, NotificationRecord, UserRecord, UserTokenRecord};

use super::recovery::{new_user_token, user_token_hash};
use crate::{App, Error, RequestContext, Result};

/// How long an email-verification token lives.
pub const VERIFY_EMAIL_TTL_MS: i64 = 24 * 60 * 60 * 1000;
const PURPOSE_VERIFY: &str = "verify_email";

impl App {
    /// A new user's verification token, written off the response path (a failure is
    /// logged; the user asks for another with `POST /v1/me/email` and their own address).
    pub(crate) fn send_verification_detached(
        &self,
        ctx: &RequestContext,
        user: &UserRecord,
        token: SecretString,
        token_hash: Vec<u8>,
    ) {
        let (record, notification, audit) =
            self.verification_records(ctx, user, &user.email, token, token_hash);
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(error) = store.issue_user_token(&record, &notification, &audit).await {
                tracing::error!(%error, "a verification token could not be stored");
            }
        });
    }

    /// Sends `user` a verification token for `address` (the one they want instead of
    /// theirs), replacing any live one. Written in one transaction with its notification.
    async fn send_verification(
        &self,
        ctx: &RequestContext,
        user: &UserRecord,
        address: &str,
        token: SecretString,
        token_hash: Vec<u8>,
    ) -> Result<()> {
        let (record, notification, audit) =
            self.verification_records(ctx, user, address, token, token_hash);
        self.store
            .issue_user_token(&record, &notification, &audit)
            .await?;
        Ok(())
    }

    fn verification_records(
        &self,
        ctx: &RequestContext,
        user: &UserRecord,
        address: &str,
        token: SecretString,
        token_hash: Vec<u8>,
    ) -> (UserTokenRecord, NotificationRecord, store::AuditEntry) {
        let now = self.clock.now_ms();
        let record = UserTokenRecord {
            token_hash,
            user_id: user.id.clone(),
            purpose: PURPOSE_VERIFY.to_owned(),
            email: address.to_owned(),
            created_at: now,
            expires_at: now.saturating_add(VERIFY_EMAIL_TTL_MS),
        };
        let notification = self.token_notification(&record, PURPOSE_VERIFY, token);
        let audit = self.audit_entry(
            ctx,
            "security.email_verification_sent",
            &format!("user:{}", user.id),
            "success",
            json!({ "change": address != user.email }),
        );
        (record, notification, audit)
    }

    /// `POST /v1/auth/email/verify`: a live token verifies the address it was sent to; for an
    /// email change that address replaces the old one (which is told).
    pub async fn verify_email(&self, ctx: &RequestContext, token: &str) -> Result<()> {
        self.identity.throttles.refresh(ctx.ip)?;
        let hash = user_token_hash(token).ok_or(Error::InvalidVerificationToken)?;
        let record = self
            .store
            .find_user_token(&hash, PURPOSE_VERIFY, self.clock.now_ms())
            .await?
            .ok_or(Error::InvalidVerificationToken)?;
        let user = self
            .store
            .find_user(&record.user_id)
            .await?
            .ok_or(Error::InvalidVerificationToken)?;
        let changed = record.email != user.email;
        let kind = if changed {
            "email_changed"
        } else {
            "email_verified"
        };
        let event = self.event(ctx, &user.id, kind, None);
        let mut notifications = Vec::new();
        if changed {
            // The old address hears that it no longer signs in to this account.
            notifications.push(NotificationRecord {
                id: 0,
                user_id: user.id.clone(),
                kind: "email_changed".to_owned(),
                created_at: event.created_at,
                data: json!({ "to": user.email }).to_string(),
            });
        }
        let announcement = Announcement {
            event: &event,
            notifications: &notifications,
        };
        if !self
            .store
            .verify_email(&record, event.created_at, &announcement)
            .await?
        {
            return Err(Error::InvalidVerificationToken);
        }
        self.user_changed(&user.id);
        Ok(())
    }

    /// `POST /v1/me/email`: with the user's own address, sends a new verification token when
    /// it is not verified yet (no step-up: it goes where the account already points). With
    /// another address (step-up): a verification token to it and a notice to the old one. An
    /// address that is taken gets the same answer and no token, so nobody learns which
    /// addresses have accounts.
    pub async fn change_email(&self, ctx: &RequestContext, raw: &str) -> Result<()> {
        let caller = ctx.caller()?;
        let email = Email::parse(raw).map_err(|_| Error::field("new_email", "invalid"))?;
        let user = self
            .store
            .find_user(caller.user_id.as_str())
            .await?
            .ok_or(Error::InvalidToken)?;
        if email.as_str() == user.email {
            self.identity.throttles.mail(email.as_str(), ctx.ip)?;
            if user.email_verified_at.is_none() {
                let (token, token_hash) = new_user_token()?;
                self.send_verification(ctx, &user, email.as_str(), token, token_hash)
                    .await?;
            }
            return Ok(());
        }
        let caller = self.require_step_up_or_enrolment(ctx).await?;
        self.identity.throttles.mail(email.as_str(), ctx.ip)?;
        let (token, token_hash) = new_user_token()?;
        let taken = self
            .store
            .find_user_by_email(email.as_str())
            .await?
            .is_some();
        // Everything the caller can see — the answer, their event, the notice to their own
        // address — is the same whether the address is taken; only the token is missing.
        let event = self.event(
            ctx,
            &user.id,
            "email_change_requested",
            Some(caller.session_id.as_str()),
        );
        let notice = NotificationRecord {
            id: 0,
            user_id: user.id.clone(),
            kind: "email_change_requested".to_owned(),
            created_at: event.created_at,
            data: json!({ "to": user.email, "location": event.location }).to_string(),
        };
        self.store
            .record_event_with_notification(&event, &notice)
            .await?;
        if taken {
            let entry = self.audit_entry(
                ctx,
                "security.email_change_refused",
                &format!("user:{}", user.id),
                "failure",
                json!({ "reason": "address_taken" }),
            );
            self.store.append_audit(&[entry]).await?;
            return Ok(());
        }
        self.send_verification(ctx, &user, email.as_str(), token, token_hash)
            .await
    }

    /// Money may leave `user_id`'s accounts: always, unless `auth.require_verified_email` is
    /// on and the owner has not verified their address (403 `email_unverified`).
    pub(crate) async fn require_verified_email(&self, user_id: &str) -> Result<()> {
        if !self.auth.require_verified_email {
            return Ok(());
        }
        let user = self
            .store
            .find_user(user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        if user.email_verified_at.is_some() {
            Ok(())
        } else {
            Err(Error::EmailUnverified)
        }
    }
}
