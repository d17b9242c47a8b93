//! Second-factor management — which factors a user has, removing one, regenerating recovery
//! codes — and the rules that make enrolling a factor itself a sensitive action, so a stolen
//! password-level token can never plant the attacker's own factor.

use secrecy::SecretString;
use store::{FactorRef, PasskeyInfo, RemoveOutcome};

use super::Caller;
use crate::limits::PASSKEY_ID_CHARS_MAX;
use crate::{App, Error, RequestContext, Result};

/// Roles whose holders must keep at least one second factor.
pub const ROLES_REQUIRING_MFA: [&str; 3] = ["admin", "support", "auditor"];

/// A user's second factors.
#[derive(Debug)]
pub struct Factors {
    pub totp: bool,
    pub passkeys: Vec<PasskeyInfo>,
    pub recovery_codes_remaining: i64,
}

impl App {
    /// True when the user has a confirmed TOTP or a passkey.
    pub async fn has_any_factor(&self, user_id: &str) -> Result<bool> {
        Ok(self.has_totp(user_id).await? || self.has_passkeys(user_id).await?)
    }

    /// May the caller enrol a new factor? With a factor already enrolled: only after a step-up
    /// (`acr=mfa` within the window). Without one: a sign-in within the window, or the
    /// password re-entered (counted by the login throttles).
    pub(crate) async fn authorize_enrolment<'c>(
        &self,
        ctx: &'c RequestContext,
        password: Option<SecretString>,
    ) -> Result<&'c Caller> {
        let caller = ctx.caller()?;
        let max_age_secs = self.auth.step_up_max_age_secs;
        if self.has_any_factor(caller.user_id.as_str()).await? {
            return self.require_step_up(ctx);
        }
        if caller.authenticated_within(self.clock.now_secs(), max_age_secs) {
            return Ok(caller);
        }
        match password {
            Some(password) => {
                self.reauthenticate(ctx, caller.user_id.as_str(), password)
                    .await?;
                Ok(caller)
            }
            None => Err(Error::StepUpRequired { max_age_secs }),
        }
    }

    /// After any factor change: every other session of the user dies (a thief's session
    /// made before the change cannot ride on it), and the change is recorded.
    pub(crate) async fn factor_changed(&self, ctx: &RequestContext, kind: &str) -> Result<()> {
        let caller = ctx.caller()?;
        let revoked = self
            .store
            .revoke_other_sessions(
                caller.user_id.as_str(),
                caller.session_id.as_str(),
                "factor_changed",
                self.clock.now_ms(),
            )
            .await?;
        for session_id in &revoked {
            self.session_revoked(session_id);
        }
        // The owner hears of every factor change (a thief adding their own factor included).
        let user_id = caller.user_id.as_str();
        let event = self.event(ctx, user_id, kind, Some(caller.session_id.as_str()));
        let notification = store::NotificationRecord {
            id: 0,
            user_id: user_id.to_owned(),
            kind: "mfa_changed".to_owned(),
            created_at: event.created_at,
            data: serde_json::json!({
                "change": kind,
                "location": event.location,
                "device": crate::protection::Device::parse(&ctx.user_agent).label(),
            })
            .to_string(),
        };
        self.store
            .record_event_with_notification(&event, &notification)
            .await?;
        tracing::info!(target: "strongroom::security", kind, user_id, "security event");
        Ok(())
    }

    /// True when one of the user's roles requires a second factor.
    async fn role_requires_mfa(&self, user_id: &str) -> Result<bool> {
        let user = self
            .store
            .find_user(user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        Ok(user
            .roles
            .split(',')
            .any(|role| ROLES_REQUIRING_MFA.contains(&role)))
    }

    /// Removes a factor (refused when it is the last and a role requires one), then signs
    /// out the user's other sessions.
    async fn remove_factor(
        &self,
        ctx: &RequestContext,
        factor: FactorRef<'_>,
        kind: &str,
    ) -> Result<()> {
        let caller = self.require_step_up(ctx)?;
        let keep_one = self.role_requires_mfa(caller.user_id.as_str()).await?;
        match self
            .store
            .remove_factor(caller.user_id.as_str(), factor, keep_one)
            .await?
        {
            RemoveOutcome::Removed => self.factor_changed(ctx, kind).await,
            RemoveOutcome::NotFound => Err(Error::NotFound),
            RemoveOutcome::LastFactor => Err(Error::FactorRequired),
        }
    }

    /// The caller's second factors.
    pub async fn factors(&self, ctx: &RequestContext) -> Result<Factors> {
        let caller = ctx.caller()?;
        Ok(Factors {
            totp: self.has_totp(caller.user_id.as_str()).await?,
            passkeys: self.store.passkey_list(caller.user_id.as_str()).await?,
            recovery_codes_remaining: self
                .store
                .recovery_codes_remaining(caller.user_id.as_str())
                .await?,
        })
    }

    /// Removes the caller's TOTP authenticator (step-up). Other sessions are revoked.
    pub async fn remove_totp(&self, ctx: &RequestContext) -> Result<()> {
        self.remove_factor(ctx, FactorRef::Totp, "mfa_totp_removed")
            .await
    }

    /// Removes one of the caller's passkeys (step-up). Other sessions are revoked.
    pub async fn remove_passkey(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        if id.is_empty() || id.len() > PASSKEY_ID_CHARS_MAX {
            self.require_step_up(ctx)?;
            return Err(Error::NotFound);
        }
        self.remove_factor(ctx, FactorRef::Passkey(id), "mfa_passkey_removed")
            .await
    }

    /// Replaces the caller's recovery codes with ten new ones (step-up).
    pub async fn regenerate_recovery_codes(
        &self,
        ctx: &RequestContext,
    ) -> Result<Vec<SecretString>> {
        let caller = self.require_step_up(ctx)?;
        if !self.has_any_factor(caller.user_id.as_str()).await? {
            return Err(Error::NotFound);
        }
        let (codes, macs) = self.new_recovery_codes(caller.user_id.as_str()).await?;
        self.store
            .replace_recovery_codes(caller.user_id.as_str(), &macs, self.clock.now_ms())
            .await?;
        self.factor_changed(ctx, "recovery_codes_regenerated")
            .await?;
        Ok(codes)
    }
}
