//! Access tokens: minting them for a session, the cache of tokens already verified, and the
//! bearer check every authenticated request passes (signature, claims, live session).

use std::collections::HashMap;
use std::sync::Mutex;

use identity::{AccessClaims, Acr};
use secrecy::SecretString;
use store::{SessionRecord, UserRecord};

use super::Caller;
pub use crate::limits::VERIFIED_TOKENS_MAX;
use crate::{App, Error, RequestContext, Result, new_id};

/// Access tokens whose signature, header and claims already passed `SigningKeys::verify`,
/// keyed by the SHA-256 of the exact token bytes. A hit skips the Ed25519 verification (about
/// a fifth of an authenticated request's CPU) but never the time checks (re-run on every use)
/// or the session check. Holds no secret a client does not already have.
#[derive(Default)]
pub struct VerifiedTokens {
    /// Claims by token digest, with the signing-key generation they were verified under.
    entries: Mutex<HashMap<[u8; 32], (AccessClaims, u64)>>,
}

impl VerifiedTokens {
    fn digest(token: &str) -> Option<[u8; 32]> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .ok()
    }

    /// The claims of `token` if it was verified under key generation `generation` and is
    /// still current.
    pub fn get(&self, token: &str, now: u64, generation: u64) -> Option<AccessClaims> {
        let digest = Self::digest(token)?;
        let entries = self.entries.lock().ok()?;
        entries
            .get(&digest)
            .filter(|(claims, verified_under)| {
                *verified_under == generation && claims.is_current(now)
            })
            .map(|(claims, _)| claims.clone())
    }

    /// Forgets every token (the signing keys changed: a retired key's tokens must fail their
    /// next verification).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    pub fn insert(&self, token: &str, claims: &AccessClaims, now: u64, generation: u64) {
        let (Some(digest), Ok(mut entries)) = (Self::digest(token), self.entries.lock()) else {
            return;
        };
        if entries.len() >= VERIFIED_TOKENS_MAX {
            entries.retain(|_, (claims, _)| claims.is_current(now));
            if entries.len() >= VERIFIED_TOKENS_MAX {
                entries.clear();
            }
        }
        entries.insert(digest, (claims.clone(), generation));
    }
}

/// Tokens for a session: the access token, and — when a session starts or rotates — the new
/// refresh token with the cookie's remaining lifetime.
#[derive(Debug)]
pub struct IssuedTokens {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh: Option<RefreshCookie>,
    /// A new `__Host-strongroom_device` cookie value, for a browser that had none.
    pub device_cookie: Option<String>,
}

/// A refresh token to set as the cookie, with its `Max-Age`.
#[derive(Debug)]
pub struct RefreshCookie {
    pub token: SecretString,
    pub max_age_secs: i64,
}

/// The scope of `POST /internal/v1/introspect`.
pub const INTROSPECT_SCOPE: &str = "tokens:introspect";

impl App {
    /// RFC 7662 for a service holding `tokens:introspect`: the claims of `token` when it is
    /// active — it verifies, its session is live, and its account is active (not quarantined,
    /// locked or closed: tokens Strongroom itself would refuse) — with the roles the account
    /// holds now (a revoked role is gone at once), else `None`.
    pub async fn introspect(
        &self,
        ctx: &RequestContext,
        token: &str,
    ) -> Result<Option<AccessClaims>> {
        ctx.service(INTROSPECT_SCOPE)?;
        let mut claims = match self.authenticate(token).await {
            Ok(caller) => caller.claims,
            Err(Error::InvalidToken) => return Ok(None),
            Err(error) => return Err(error),
        };
        let Some(user) = self
            .store
            .find_user(&claims.sub)
            .await?
            .filter(|user| user.status == super::STATUS_ACTIVE)
        else {
            return Ok(None);
        };
        claims.roles = user
            .roles
            .split(',')
            .filter(|role| !role.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Some(claims))
    }

    /// The caller named by a bearer token, if it verifies and its session is live.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        let now = self.clock.now_secs();
        let identity = &self.identity;
        let (keys, generation) = identity.keys.current_with_generation();
        let claims = match identity.verified.get(token, now, generation) {
            Some(claims) => claims,
            None => {
                let claims = keys.verify(token, now).map_err(|_| Error::InvalidToken)?;
                identity.verified.insert(token, &claims, now, generation);
                claims
            }
        };
        let live = identity
            .sessions
            .is_live(&self.store, &claims.sid, &claims.sub, self.clock.now_ms())
            .await?;
        if !live {
            return Err(Error::InvalidToken);
        }
        Ok(Caller {
            user_id: crate::UserId::parse(&claims.sub).ok_or(Error::InvalidToken)?,
            session_id: crate::SessionId::parse(&claims.sid).ok_or(Error::InvalidToken)?,
            claims,
        })
    }

    /// The user and session a bearer token names when its signature and lifetime verify (the
    /// session's liveness is not looked at): what per-user rate limits count against.
    pub fn token_session(&self, token: &str) -> Option<(String, String)> {
        let now = self.clock.now_secs();
        let identity = &self.identity;
        let (keys, generation) = identity.keys.current_with_generation();
        if let Some(claims) = identity.verified.get(token, now, generation) {
            return Some((claims.sub, claims.sid));
        }
        let claims = keys.verify(token, now).ok()?;
        identity.verified.insert(token, &claims, now, generation);
        Some((claims.sub, claims.sid))
    }

    /// The user a bearer token names when its signature and lifetime verify.
    pub fn token_subject(&self, token: &str) -> Option<String> {
        self.token_session(token).map(|(user, _)| user)
    }

    /// Signs an access token for `session`; returns it with its `exp` (seconds).
    pub(crate) fn mint_access_token(
        &self,
        roles: &str,
        session: &SessionRecord,
        now_ms: i64,
    ) -> Result<(String, u64)> {
        let iat = u64::try_from(now_ms / 1000).unwrap_or(0);
        let session_end = u64::try_from(session.expires_at / 1000).unwrap_or(0);
        let exp = iat
            .saturating_add(self.auth.access_token_ttl_secs)
            .min(session_end);
        let split = |list: &str| -> Vec<String> {
            list.split(',')
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let keys = self.identity.keys.current();
        let claims = AccessClaims {
            iss: keys.issuer().to_owned(),
            aud: keys.audience().to_owned(),
            sub: session.user_id.clone(),
            sid: session.id.clone(),
            jti: new_id(),
            iat,
            exp,
            auth_time: u64::try_from(session.auth_time / 1000).unwrap_or(0),
            acr: if session.acr == "mfa" {
                Acr::Mfa
            } else {
                Acr::Pwd
            },
            amr: split(&session.amr),
            roles: split(roles),
        };
        let token = keys
            .sign(&claims)
            .map_err(|error| crate::error::internal("cannot sign an access token", error))?;
        Ok((token, exp))
    }

    /// Creates a session and its refresh family, with its `login` event in the same
    /// transaction, and issues the tokens.
    pub(crate) async fn start_session(
        &self,
        ctx: &RequestContext,
        user: &UserRecord,
        acr: Acr,
        amr: &[&str],
    ) -> Result<IssuedTokens> {
        let now = self.clock.now_ms();
        let session = self.new_session(ctx, user, acr, amr, now);
        let (refresh_token, refresh_hash) = identity::refresh::new_refresh_token()
            .map_err(|error| crate::error::internal("no randomness for a refresh token", error))?;
        let event = self.event(ctx, &user.id, "login", Some(&session.id));
        // A password sign-in from an impossible place quarantines the account: the password
        // still works, but its tokens are held until a second factor is completed.
        let held = acr == Acr::Pwd
            && (self.check_travel(ctx, &user.id, None).await?
                || self.is_quarantined(&user.id).await?);
        // Not when the account was closed, or its password reset, since `user` was read.
        if !self
            .store
            .create_session(&session, &refresh_hash, &event, &user.password_hash)
            .await?
        {
            return Err(Error::InvalidCredentials);
        }
        if acr == Acr::Mfa {
            self.lift_quarantine_after_mfa(ctx, &user.id, Some(&session.id))
                .await?;
        }
        self.identity
            .sessions
            .insert(&session.id, &user.id, session.expires_at);
        tracing::info!(target: "strongroom::security", kind = "login", user_id = user.id, "security event");
        // A held sign-in (perhaps the thief's) never makes its browser known to the account.
        let device_cookie = if held {
            None
        } else {
            self.remember_sign_in_device(ctx, &user.id, &session.id)
                .await
        };
        let (access_token, exp) = self.mint_access_token(&user.roles, &session, now)?;
        let mut issued = self.issued(
            access_token,
            exp,
            Some(refresh_token),
            session.expires_at,
            now,
        );
        issued.device_cookie = device_cookie;
        Ok(issued)
    }

    /// The record of a session starting now for `user`, from the request of `ctx`.
    fn new_session(
        &self,
        ctx: &RequestContext,
        user: &UserRecord,
        acr: Acr,
        amr: &[&str],
        now: i64,
    ) -> SessionRecord {
        let family_ttl_ms = i64::try_from(self.auth.refresh_family_ttl_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        SessionRecord {
            id: new_id(),
            user_id: user.id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now.saturating_add(family_ttl_ms),
            ip: ctx.ip.to_string(),
            user_agent: ctx.user_agent.clone(),
            auth_time: now,
            acr: match acr {
                Acr::Pwd => "pwd",
                Acr::Mfa => "mfa",
            }
            .to_owned(),
            amr: amr.join(","),
            generation: 0,
            rotated_at: None,
            grace_blob: None,
            revoked_at: None,
            location: ctx
                .location
                .as_ref()
                .map(crate::protection::Location::label),
        }
    }

    pub(crate) fn issued(
        &self,
        access_token: String,
        exp: u64,
        refresh_token: Option<SecretString>,
        family_expires_at_ms: i64,
        now_ms: i64,
    ) -> IssuedTokens {
        let now_secs = u64::try_from(now_ms / 1000).unwrap_or(0);
        IssuedTokens {
            access_token,
            expires_in: exp.saturating_sub(now_secs),
            refresh: refresh_token.map(|token| RefreshCookie {
                token,
                max_age_secs: family_expires_at_ms.saturating_sub(now_ms).max(0) / 1000,
            }),
            device_cookie: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iat: u64, exp: u64) -> AccessClaims {
        AccessClaims {
            iss: "https://strongroom.test".to_owned(),
            aud: "strongroom".to_owned(),
            sub: "u1".to_owned(),
            sid: "s1".to_owned(),
            jti: "j1".to_owned(),
            iat,
            exp,
            auth_time: iat,
            acr: Acr::Pwd,
            amr: vec!["pwd".to_owned()],
            roles: Vec::new(),
        }
    }

    #[test]
    fn remembered_tokens_still_expire_and_only_the_exact_bytes_hit() {
        let cache = VerifiedTokens::default();
        cache.insert("token-a", &claims(1_000, 1_600), 1_000, 7);
        assert_eq!(cache.get("token-a", 1_100, 7), Some(claims(1_000, 1_600)));
        assert_eq!(cache.get("token-a ", 1_100, 7), None);
        assert_eq!(cache.get("token-b", 1_100, 7), None);
        assert_eq!(
            cache.get("token-a", 1_700, 7),
            None,
            "expired claims are not served"
        );
        assert_eq!(
            cache.get("token-a", 1_100, 8),
            None,
            "verified under older signing keys: verified again"
        );
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = VerifiedTokens::default();
        for i in 0..VERIFIED_TOKENS_MAX + 10 {
            cache.insert(&format!("token-{i}"), &claims(1_000, 1_600), 1_000, 0);
        }
        let len = cache
            .entries
            .lock()
            .map(|entries| entries.len())
            .unwrap_or(usize::MAX);
        assert!(len <= VERIFIED_TOKENS_MAX, "{len}");
    }
}
