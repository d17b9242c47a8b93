//! TOTP and recovery codes: enrolment and confirmation, the MFA step of login (`mfa_ticket`,
//! whose attempts are claimed atomically before each check), TOTP step-up (RFC 9470), and the
//! challenge a password login answers with when the user has a second factor.

use identity::refresh::{hash_refresh_token, is_plausible_refresh_token, new_refresh_token};
use identity::{Acr, totp};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::tokens::IssuedTokens;
use crate::limits::{
    MFA_TICKET_ATTEMPTS_MAX, MFA_TICKET_TTL_MS, PENDING_TOTP_ATTEMPTS_MAX, PENDING_TOTP_TTL_MS,
};
use crate::vault::totp_aad;
use crate::{App, Error, RequestContext, Result};

/// The answer to a password step when a second factor is required.
#[derive(Debug)]
pub struct MfaChallenge {
    /// Single-use, short-lived; never accepted as a bearer token.
    pub ticket: SecretString,
    /// `totp` and/or `webauthn`.
    pub methods: Vec<&'static str>,
}

/// A new TOTP secret to put in an authenticator app.
#[derive(Debug)]
pub struct TotpEnrolment {
    /// Base32, for manual entry.
    pub secret: SecretString,
    pub otpauth_uri: SecretString,
}

impl App {
    pub async fn has_totp(&self, user_id: &str) -> Result<bool> {
        Ok(self
            .store
            .find_totp(user_id)
            .await?
            .is_some_and(|record| record.confirmed_at.is_some()))
    }

    /// The confirmed TOTP secret of a user, opened.
    async fn confirmed_secret(&self, user_id: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let Some(record) = self.store.find_totp(user_id).await? else {
            return Ok(None);
        };
        let (Some(sealed), Some(_)) = (record.secret_sealed, record.confirmed_at) else {
            return Ok(None);
        };
        let key = self.vault.factor_key(&self.store, user_id).await?;
        let secret = key.open(&totp_aad(user_id), &sealed).map_err(|_| {
            tracing::error!(user_id, "stored TOTP secret failed authentication");
            Error::DataIntegrity
        })?;
        Ok(Some(secret))
    }

    /// Verifies a TOTP code for a user and spends its step; `InvalidCode` otherwise.
    async fn accept_totp(&self, ctx: &RequestContext, user_id: &str, code: &str) -> Result<()> {
        self.identity.throttles.otp(user_id, ctx.ip).await?;
        let secret = self
            .confirmed_secret(user_id)
            .await?
            .ok_or(Error::InvalidCode)?;
        let step = totp::check(&secret, code, self.clock.now_secs()).ok_or(Error::InvalidCode)?;
        let step = i64::try_from(step).map_err(|_| Error::InvalidCode)?;
        if self.store.use_totp_step(user_id, step).await? {
            Ok(())
        } else {
            Err(Error::InvalidCode)
        }
    }

    /// Issues the challenge that replaces tokens when the user has a second factor.
    pub(crate) async fn challenge(&self, user_id: &str) -> Result<MfaChallenge> {
        let mut methods = Vec::new();
        if self.has_totp(user_id).await? {
            methods.push("totp");
        }
        if self.has_passkeys(user_id).await? {
            methods.push("webauthn");
        }
        let (ticket, ticket_hash) =
            new_refresh_token().map_err(|error| crate::error::internal("no randomness", error))?;
        self.store
            .create_mfa_ticket(
                &ticket_hash,
                user_id,
                self.clock.now_ms().saturating_add(MFA_TICKET_TTL_MS),
            )
            .await?;
        Ok(MfaChallenge { ticket, methods })
    }

    fn ticket_hash(ticket: &str) -> Option<Vec<u8>> {
        is_plausible_refresh_token(ticket)
            .then(|| hash_refresh_token(&SecretString::from(ticket.to_owned())))
    }

    /// Spends one attempt of a live ticket before any code is checked; the ticket's user and
    /// hash, or `failure`.
    pub(crate) async fn claim_ticket(
        &self,
        ticket: &str,
        failure: Error,
    ) -> Result<(String, Vec<u8>)> {
        let hash = Self::ticket_hash(ticket).ok_or_else(|| failure.clone())?;
        let user_id = self
            .store
            .claim_mfa_attempt(&hash, self.clock.now_ms(), MFA_TICKET_ATTEMPTS_MAX)
            .await?
            .ok_or(failure)?;
        Ok((user_id, hash))
    }

    /// The user behind a live ticket, and the ticket's hash (no attempt spent).
    pub(crate) async fn ticket_user(&self, ticket: &str) -> Result<(String, Vec<u8>)> {
        let hash = Self::ticket_hash(ticket).ok_or(Error::InvalidCode)?;
        let user_id = self
            .store
            .mfa_ticket_user(&hash, self.clock.now_ms(), MFA_TICKET_ATTEMPTS_MAX)
            .await?
            .ok_or(Error::InvalidCode)?;
        Ok((user_id, hash))
    }

    /// Ten new recovery codes for `user_id` and the MACs they are stored as.
    pub(crate) async fn new_recovery_codes(
        &self,
        user_id: &str,
    ) -> Result<(Vec<SecretString>, Vec<Vec<u8>>)> {
        let codes = totp::new_recovery_codes()
            .map_err(|error| crate::error::internal("no randomness", error))?;
        let mut macs = Vec::with_capacity(codes.len());
        for code in &codes {
            if let Some(normalised) = totp::normalise_recovery_code(code) {
                macs.push(
                    self.vault
                        .recovery_code_mac(&self.store, user_id, &normalised)
                        .await?,
                );
            }
        }
        Ok((codes, macs))
    }

    /// Records a second factor that was checked and failed (the user sees guessing in their
    /// security events).
    pub(crate) async fn record_failed_factor(
        &self,
        ctx: &RequestContext,
        user_id: &str,
    ) -> Result<()> {
        self.record_event(ctx, user_id, "mfa_failed", None).await
    }

    /// Starts TOTP enrolment: a pending secret. See `authorize_enrolment` for who may.
    pub async fn enroll_totp(
        &self,
        ctx: &RequestContext,
        password: Option<SecretString>,
    ) -> Result<TotpEnrolment> {
        let caller = self.authorize_enrolment(ctx, password).await?;
        let user = self
            .store
            .find_user(caller.user_id.as_str())
            .await?
            .ok_or(Error::InvalidToken)?;
        let secret =
            totp::new_secret().map_err(|error| crate::error::internal("no randomness", error))?;
        let sealed = self
            .vault
            .factor_key(&self.store, &user.id)
            .await?
            .seal(&totp_aad(&user.id), &secret)
            .map_err(|error| crate::error::internal("cannot seal a TOTP secret", error))?;
        let now = self.clock.now_ms();
        self.store
            .set_pending_totp(
                &user.id,
                &sealed,
                caller.session_id.as_str(),
                now.saturating_add(PENDING_TOTP_TTL_MS),
                now,
            )
            .await?;
        let (secret, otpauth_uri) = totp::enrolment(&secret, &user.email)
            .map_err(|error| crate::error::internal("cannot encode a TOTP secret", error))?;
        Ok(TotpEnrolment {
            secret,
            otpauth_uri,
        })
    }

    /// Confirms TOTP enrolment with a current code; ten single-use recovery codes.
    pub async fn confirm_totp(
        &self,
        ctx: &RequestContext,
        code: &str,
    ) -> Result<Vec<SecretString>> {
        let caller = ctx.caller()?;
        self.identity
            .throttles
            .otp(caller.user_id.as_str(), ctx.ip)
            .await?;
        // Only the session that enrolled, within the pending secret's lifetime, for a few
        // attempts (each spent before its code is checked).
        let pending = self
            .store
            .claim_pending_totp(
                caller.user_id.as_str(),
                caller.session_id.as_str(),
                self.clock.now_ms(),
                PENDING_TOTP_ATTEMPTS_MAX,
            )
            .await?
            .ok_or(Error::InvalidCode)?;
        let secret = self
            .vault
            .factor_key(&self.store, caller.user_id.as_str())
            .await?
            .open(&totp_aad(caller.user_id.as_str()), &pending)
            .map_err(|_| Error::DataIntegrity)?;
        let step = totp::check(&secret, code, self.clock.now_secs()).ok_or(Error::InvalidCode)?;
        let step = i64::try_from(step).map_err(|_| Error::InvalidCode)?;
        let (codes, macs) = self.new_recovery_codes(caller.user_id.as_str()).await?;
        if !self
            .store
            .confirm_totp(
                caller.user_id.as_str(),
                &pending,
                step,
                &macs,
                self.clock.now_ms(),
            )
            .await?
        {
            return Err(Error::InvalidCode);
        }
        self.factor_changed(ctx, "mfa_totp_enabled").await?;
        Ok(codes)
    }

    /// Second login step with a TOTP code.
    pub async fn login_totp(
        &self,
        ctx: &RequestContext,
        ticket: &str,
        code: &str,
    ) -> Result<IssuedTokens> {
        let (user_id, ticket_hash) = self.claim_ticket(ticket, Error::InvalidCode).await?;
        if let Err(error) = self.accept_totp(ctx, &user_id, code).await {
            if matches!(error, Error::InvalidCode) {
                self.record_failed_factor(ctx, &user_id).await?;
            }
            return Err(error);
        }
        self.finish_mfa_login(ctx, &user_id, &ticket_hash, &["pwd", "otp"])
            .await
    }

    /// Second login step with a recovery code (each works once).
    pub async fn login_recovery(
        &self,
        ctx: &RequestContext,
        ticket: &str,
        recovery_code: SecretString,
    ) -> Result<IssuedTokens> {
        let (user_id, ticket_hash) = self.claim_ticket(ticket, Error::InvalidCode).await?;
        self.identity.throttles.otp(&user_id, ctx.ip).await?;
        let used = match totp::normalise_recovery_code(&recovery_code) {
            Some(code) => {
                let now = self.clock.now_ms();
                let mac = self
                    .vault
                    .recovery_code_mac(&self.store, &user_id, &code)
                    .await?;
                let mut used = self.store.use_recovery_code(&user_id, &mac, now).await?;
                // Codes issued before per-user keys, while any remain.
                if let (false, Some(legacy)) = (used, self.vault.legacy_recovery_code_mac(&code)) {
                    used = self.store.use_recovery_code(&user_id, &legacy, now).await?;
                }
                used
            }
            None => false,
        };
        if !used {
            self.record_failed_factor(ctx, &user_id).await?;
            return Err(Error::InvalidCode);
        }
        self.record_event(ctx, &user_id, "recovery_code_used", None)
            .await?;
        self.finish_mfa_login(ctx, &user_id, &ticket_hash, &["pwd", "rc"])
            .await
    }

    /// Spends the ticket whose factor was accepted, then starts an `acr=mfa` session (for an
    /// active user only). The client's network keeps its own second-factor budget from now on.
    pub(crate) async fn finish_mfa_login(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        ticket_hash: &[u8],
        amr: &[&str],
    ) -> Result<IssuedTokens> {
        if !self
            .store
            .consume_mfa_ticket(ticket_hash, self.clock.now_ms(), MFA_TICKET_ATTEMPTS_MAX)
            .await?
        {
            return Err(Error::InvalidCode);
        }
        let user = self
            .store
            .find_user(user_id)
            .await?
            .filter(|user| super::may_sign_in(&user.status))
            .ok_or(Error::InvalidCode)?;
        self.identity.throttles.remember_network(user_id, ctx.ip);
        self.start_session(ctx, &user, Acr::Mfa, amr).await
    }

    /// Steps the current session up with a TOTP code: fresh tokens with `acr=mfa`.
    pub async fn step_up_totp(&self, ctx: &RequestContext, code: &str) -> Result<IssuedTokens> {
        let caller = ctx.caller()?;
        if let Err(error) = self.accept_totp(ctx, caller.user_id.as_str(), code).await {
            if matches!(error, Error::InvalidCode) {
                self.record_failed_factor(ctx, caller.user_id.as_str())
                    .await?;
            }
            return Err(error);
        }
        let tokens = self.raise_session(ctx, "otp").await?;
        self.record_event(
            ctx,
            caller.user_id.as_str(),
            "step_up",
            Some(caller.session_id.as_str()),
        )
        .await?;
        Ok(tokens)
    }

    /// Records a fresh multi-factor authentication (`method` joins `amr`) on the caller's
    /// session and mints an access token with `acr=mfa` for it.
    pub(crate) async fn raise_session(
        &self,
        ctx: &RequestContext,
        method: &str,
    ) -> Result<IssuedTokens> {
        let caller = ctx.caller()?;
        self.identity
            .throttles
            .remember_network(caller.user_id.as_str(), ctx.ip);
        let now = self.clock.now_ms();
        let session = self
            .store
            .find_session(caller.session_id.as_str())
            .await?
            .ok_or(Error::InvalidToken)?;
        let mut amr: Vec<&str> = session
            .amr
            .split(',')
            .filter(|existing| !existing.is_empty())
            .collect();
        if !amr.contains(&method) {
            amr.push(method);
        }
        self.store
            .set_session_authentication(&session.id, "mfa", &amr.join(","), now)
            .await?;
        self.lift_quarantine_after_mfa(ctx, caller.user_id.as_str(), Some(&session.id))
            .await?;
        let session = self
            .store
            .find_session(caller.session_id.as_str())
            .await?
            .ok_or(Error::InvalidToken)?;
        let user = self
            .store
            .find_user(caller.user_id.as_str())
            .await?
            .ok_or(Error::InvalidToken)?;
        let (access_token, exp) = self.mint_access_token(&user.roles, &session, now)?;
        Ok(self.issued(access_token, exp, None, session.expires_at, now))
    }
}

/// Recovery codes as shown once to the user.
pub fn reveal_codes(codes: &[SecretString]) -> Vec<String> {
    codes
        .iter()
        .map(|code| code.expose_secret().to_owned())
        .collect()
}
