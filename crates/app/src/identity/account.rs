//! Registration and password login. Neither reveals which emails exist: a registered email
//! gets the same answer after the same work, and a wrong password takes as long as an unknown
//! email (the same Argon2 work; events written off the response path).

use identity::password::{PasswordError, Verification};
use identity::{Acr, Email};
use secrecy::{ExposeSecret, SecretString};
use store::UserRecord;

use super::mfa::MfaChallenge;
use super::throttle::LoginClient;
use super::tokens::IssuedTokens;
use super::{DEFAULT_ROLE, STATUS_ACTIVE, validate_display_name};
use crate::{App, Error, RequestContext, Result, new_id};

/// What a registration asks for.
#[derive(Debug)]
pub struct Registration {
    pub email: String,
    pub password: SecretString,
    pub display_name: String,
}

/// What a successful password step gives: tokens, or a second-factor challenge.
#[derive(Debug)]
pub enum LoginOutcome {
    Tokens(IssuedTokens),
    SecondFactor(MfaChallenge),
}

impl App {
    /// Creates an account; an email already registered gets the same answer (a fresh-looking
    /// id) after the same work, and nothing is created.
    pub async fn register(&self, ctx: &RequestContext, input: Registration) -> Result<String> {
        let identity = &self.identity;
        identity.throttles.register(ctx.ip)?;
        // A place in the Argon2 pool first: a flood is turned away before any other work.
        let admission = identity.hashing.admit().await?;
        let email = Email::parse(&input.email).map_err(|_| Error::field("email", "invalid"))?;
        let display_name = validate_display_name(&input.display_name)?;
        super::check_password_policy(
            "password",
            input.password.expose_secret(),
            email.as_str(),
            &display_name,
        )?;
        let password_hash = identity.hashing.hash(admission, input.password).await?;
        let user = UserRecord {
            id: new_id(),
            email: email.as_str().to_owned(),
            display_name,
            password_hash,
            roles: DEFAULT_ROLE.to_owned(),
            status: STATUS_ACTIVE.to_owned(),
            created_at: self.clock.now_ms(),
            email_verified_at: None,
        };
        // Both branches make one insert attempt; the event and the verification token are
        // written off the response path so a new and an existing email take the same time.
        let (token, token_hash) = super::recovery::new_user_token()?;
        if self.store.create_user(&user).await? {
            self.record_event_detached(ctx, &user.id, "registered");
            self.send_verification_detached(ctx, &user, token, token_hash);
        }
        Ok(user.id)
    }

    /// The password step of signing in.
    pub async fn login(
        &self,
        ctx: &RequestContext,
        email: &str,
        password: SecretString,
    ) -> Result<LoginOutcome> {
        let identity = &self.identity;
        let parsed = Email::parse(email).ok();
        let account_key = super::throttle_key(email, parsed.as_ref());
        // A browser that signed in to this account before keeps its own budget and its own
        // places in the Argon2 pool: a password-spraying flood cannot keep the owner out.
        let known = match (&ctx.device, &parsed) {
            (Some(device), Some(email)) if identity.throttles.device_lookup(ctx.ip) => {
                self.store.is_known_device(email.as_str(), device).await?
            }
            _ => false,
        };
        let client = LoginClient {
            ip: ctx.ip,
            device: ctx.device.as_deref(),
            known,
        };
        identity.throttles.login(&account_key, client).await?;
        if identity::password::check_length(password.expose_secret()) == Err(PasswordError::TooLong)
        {
            return Err(Error::InvalidCredentials);
        }
        // A place in the Argon2 pool before the user lookup: a flood is turned away before it
        // costs a database read. The answer (503) is the same whether the email exists.
        let admission = if known {
            identity.hashing.admit_priority().await?
        } else {
            identity.hashing.admit().await?
        };
        let user = match &parsed {
            Some(email) => self.store.find_user_by_email(email.as_str()).await?,
            None => None,
        };
        let stored = user.as_ref().map(|user| user.password_hash.clone());
        let (verification, rehashed) = identity.hashing.verify(admission, password, stored).await?;
        let Some(user) = user else {
            return Err(Error::InvalidCredentials);
        };
        if !matches!(verification, Verification::Valid { .. }) || !super::may_sign_in(&user.status)
        {
            // Off the response path: a wrong password must take as long as an unknown email.
            self.record_event_detached(ctx, &user.id, "login_failed");
            return Err(Error::InvalidCredentials);
        }
        let user = self.apply_rehash(user, rehashed).await?;
        if self.has_any_factor(&user.id).await? {
            return Ok(LoginOutcome::SecondFactor(self.challenge(&user.id).await?));
        }
        Ok(LoginOutcome::Tokens(
            self.start_session(ctx, &user, Acr::Pwd, &["pwd"]).await?,
        ))
    }

    /// Stores a hash recomputed with current parameters; the user as the session guard must
    /// see it (the hash it now holds).
    async fn apply_rehash(
        &self,
        mut user: UserRecord,
        rehashed: Option<String>,
    ) -> Result<UserRecord> {
        if let Some(hash) = rehashed
            && self
                .store
                .update_password_hash(&user.id, &user.password_hash, &hash)
                .await?
        {
            user.password_hash = hash;
        }
        Ok(user)
    }

    /// Checks the caller's password again (Argon2, behind the login throttles).
    pub(crate) async fn reauthenticate(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        password: SecretString,
    ) -> Result<()> {
        let user = self
            .store
            .find_user(user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        let identity = &self.identity;
        let client = LoginClient {
            ip: ctx.ip,
            device: ctx.device.as_deref(),
            known: false,
        };
        identity.throttles.login(&user.email, client).await?;
        if identity::password::check_length(password.expose_secret()) == Err(PasswordError::TooLong)
        {
            return Err(Error::InvalidCredentials);
        }
        let admission = identity.hashing.admit().await?;
        let (verification, _) = identity
            .hashing
            .verify(admission, password, Some(user.password_hash))
            .await?;
        match verification {
            Verification::Valid { .. } => Ok(()),
            Verification::Invalid => {
                self.record_event_detached(ctx, user_id, "login_failed");
                Err(Error::InvalidCredentials)
            }
        }
    }

    /// The signed-in user's account.
    pub async fn me(&self, ctx: &RequestContext) -> Result<Me> {
        let caller = ctx.caller()?;
        let user = self
            .store
            .find_user(caller.user_id.as_str())
            .await?
            .ok_or(Error::InvalidToken)?;
        Ok(Me {
            totp: self.has_totp(&user.id).await?,
            webauthn: self.has_passkeys(&user.id).await?,
            user,
        })
    }

    /// Changes the display name — the only field a user may change here.
    pub async fn update_display_name(&self, ctx: &RequestContext, raw: &str) -> Result<Me> {
        let name = validate_display_name(raw)?;
        self.store
            .update_display_name(ctx.caller()?.user_id.as_str(), &name)
            .await?;
        self.me(ctx).await
    }
}

/// The signed-in user and which factors they have.
#[derive(Debug)]
pub struct Me {
    pub user: UserRecord,
    pub totp: bool,
    pub webauthn: bool,
}
