//! Sessions: refresh-token rotation with reuse detection (a compare-and-set on the session's
//! `generation`; the loser of a concurrent refresh from the same client gets the same pair
//! within the grace; anyone else presenting a rotated token is a reuse, which kills the
//! session), logout, the session list and remote revocation, and the security-event list.

use identity::refresh::{self, hash_refresh_token};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use store::{SecurityEventRecord, SessionRecord};

use super::throttle::client_network;
use super::tokens::IssuedTokens;
use crate::limits::{ID_CHARS_MAX, REFRESH_GRACE_MS};
use crate::{App, Error, RequestContext, Result};

/// What a concurrent refresh inside the grace window gets back: the pair already issued, and
/// the client it was issued to (only the same client may have it).
#[derive(Serialize, Deserialize)]
struct GraceAnswer {
    access_token: String,
    exp: u64,
    refresh_token: String,
    ip: std::net::IpAddr,
    user_agent: String,
}

/// The same client: the same User-Agent, from the same IPv4 address or IPv6 /64.
fn same_client(answer: &GraceAnswer, ctx: &RequestContext) -> bool {
    client_network(answer.ip) == client_network(ctx.ip) && answer.user_agent == ctx.user_agent
}

/// A page request: at most `limit` items after the item named by `cursor`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Splits rows fetched with `limit + 1` into the page and whether another follows.
    pub fn split<T>(&self, mut rows: Vec<T>) -> (Vec<T>, bool) {
        let limit = usize::try_from(self.limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        (rows, more)
    }
}

/// One page and the cursor of the next, if any.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl App {
    /// Exchanges a refresh token for new tokens and a rotated refresh token.
    pub async fn refresh(
        &self,
        ctx: &RequestContext,
        presented: &SecretString,
    ) -> Result<IssuedTokens> {
        self.identity.throttles.refresh(ctx.ip)?;
        let (session_id, generation) = self
            .store
            .find_refresh_token(&hash_refresh_token(presented))
            .await?
            .ok_or(Error::InvalidRefreshToken)?;
        let now = self.clock.now_ms();
        let session = self.live_session(&session_id, now).await?;
        // Another browser or system than the session's, or an impossible journey: the
        // session dies and the account is quarantined.
        if self.check_device(ctx, &session).await?
            || self
                .check_travel(ctx, &session.user_id, Some(&session.id))
                .await?
        {
            return Err(Error::InvalidToken);
        }
        if generation == session.generation {
            let user = self
                .store
                .find_user(&session.user_id)
                .await?
                .ok_or(Error::InvalidRefreshToken)?;
            let (new_token, new_hash) = refresh::new_refresh_token()
                .map_err(|error| crate::error::internal("no randomness", error))?;
            let (access_token, exp) = self.mint_access_token(&user.roles, &session, now)?;
            let answer = GraceAnswer {
                access_token: access_token.clone(),
                exp,
                refresh_token: new_token.expose_secret().to_owned(),
                ip: ctx.ip,
                user_agent: ctx.user_agent.clone(),
            };
            let plaintext = zeroize::Zeroizing::new(
                serde_json::to_vec(&answer)
                    .map_err(|error| crate::error::internal("grace answer", error))?,
            );
            let sealed = crypto::grace::seal(presented, &session.id, &plaintext)
                .map_err(|error| crate::error::internal("cannot seal the grace answer", error))?;
            if self
                .store
                .rotate_refresh(&session.id, generation, &new_hash, &sealed, now)
                .await?
            {
                return Ok(self.issued(
                    access_token,
                    exp,
                    Some(new_token),
                    session.expires_at,
                    now,
                ));
            }
        }
        // Lost the race, or an older token: the concurrent-refresh grace, or theft.
        let session = self.live_session(&session_id, now).await?;
        let within_grace = generation.checked_add(1) == Some(session.generation)
            && session
                .rotated_at
                .is_some_and(|rotated| now.saturating_sub(rotated) <= REFRESH_GRACE_MS);
        if within_grace {
            let answer = session
                .grace_blob
                .as_deref()
                .and_then(|sealed| crypto::grace::open(presented, &session.id, sealed))
                .and_then(|plaintext| serde_json::from_slice::<GraceAnswer>(&plaintext).ok())
                .filter(|answer| same_client(answer, ctx));
            if let Some(answer) = answer {
                let token = SecretString::from(answer.refresh_token);
                return Ok(self.issued(
                    answer.access_token,
                    answer.exp,
                    Some(token),
                    session.expires_at,
                    now,
                ));
            }
        }
        if self
            .store
            .revoke_session(&session.id, "refresh_token_reused", now)
            .await?
        {
            self.record_event(
                ctx,
                &session.user_id,
                "refresh_token_reused",
                Some(&session.id),
            )
            .await?;
        }
        self.session_revoked(&session.id);
        metrics::counter!("strongroom_refresh_token_reuse_total").increment(1);
        Err(Error::RefreshTokenReused)
    }

    async fn live_session(&self, session_id: &str, now: i64) -> Result<SessionRecord> {
        let session = self
            .store
            .find_session(session_id)
            .await?
            .ok_or(Error::InvalidRefreshToken)?;
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(Error::InvalidRefreshToken);
        }
        Ok(session)
    }

    /// Ends the session named by a refresh token, or else by a bearer token. Idempotent.
    pub async fn logout(
        &self,
        ctx: &RequestContext,
        refresh_token: Option<&SecretString>,
        bearer_token: Option<&str>,
    ) -> Result<()> {
        let mut session_id = None;
        if let Some(token) = refresh_token {
            session_id = self
                .store
                .find_refresh_token(&hash_refresh_token(token))
                .await?
                .map(|(id, _)| id);
        }
        if let (None, Some(token)) = (&session_id, bearer_token) {
            session_id = self
                .authenticate(token)
                .await
                .ok()
                .map(|caller| caller.session_id.as_str().to_owned());
        }
        let session = match session_id {
            Some(id) => self.store.find_session(&id).await?,
            None => None,
        };
        if let Some(session) = session {
            if self
                .store
                .revoke_session(&session.id, "logout", self.clock.now_ms())
                .await?
            {
                self.record_event(ctx, &session.user_id, "logout", Some(&session.id))
                    .await?;
            }
            self.session_revoked(&session.id);
        }
        Ok(())
    }

    /// The caller's live sessions, newest first. A cursor must name one of their sessions.
    pub async fn sessions(
        &self,
        ctx: &RequestContext,
        page: &PageRequest,
    ) -> Result<Page<SessionRecord>> {
        let caller = ctx.caller()?;
        if let Some(cursor) = &page.cursor {
            let owned = self
                .store
                .find_session(cursor)
                .await?
                .is_some_and(|session| session.user_id == caller.user_id.as_str());
            if !owned {
                return Err(Error::invalid_input("Unknown cursor."));
            }
        }
        let sessions = self
            .store
            .list_sessions(
                caller.user_id.as_str(),
                self.clock.now_ms(),
                page.cursor.as_deref(),
                page.limit.saturating_add(1),
            )
            .await?;
        let (items, more) = page.split(sessions);
        let next_cursor = more
            .then(|| items.last().map(|session| session.id.clone()))
            .flatten();
        Ok(Page { items, next_cursor })
    }

    /// Revokes one of the caller's sessions; its access tokens stop working at once.
    pub async fn revoke_session(&self, ctx: &RequestContext, id: &str) -> Result<()> {
        let caller = ctx.caller()?;
        if id.len() > ID_CHARS_MAX {
            return Err(Error::NotFound);
        }
        let session = self.store.find_session(id).await?.ok_or(Error::NotFound)?;
        if session.user_id != caller.user_id.as_str() || session.revoked_at.is_some() {
            return Err(Error::NotFound);
        }
        if self
            .store
            .revoke_session(&session.id, "revoked_by_user", self.clock.now_ms())
            .await?
        {
            self.record_event(
                ctx,
                caller.user_id.as_str(),
                "session_revoked",
                Some(&session.id),
            )
            .await?;
        }
        self.session_revoked(&session.id);
        Ok(())
    }

    /// The caller's security events, newest first.
    pub async fn security_events(
        &self,
        ctx: &RequestContext,
        page: &PageRequest,
    ) -> Result<Page<SecurityEventRecord>> {
        let caller = ctx.caller()?;
        let events = self
            .store
            .list_security_events(
                caller.user_id.as_str(),
                page.cursor.as_deref(),
                page.limit.saturating_add(1),
            )
            .await?;
        let (items, more) = page.split(events);
        let next_cursor = more
            .then(|| items.last().map(|event| event.id.clone()))
            .flatten();
        Ok(Page { items, next_cursor })
    }
}
