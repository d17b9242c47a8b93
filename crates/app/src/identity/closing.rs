//! Leaving: closing an account (step-up; refused while any of its ledger accounts holds
//! money) and exporting everything held about the user (step-up). Closing crypto-shreds the
//! profile, replaces the email and display name by tombstones (the address can register
//! again), removes factors, tokens and devices, and revokes every session; the ledger history
//! stays under the user's pseudonymous id, and the audit log keeps its records.

use store::{
    AccountRecord, Announcement, Closed, HistoryEntry, SecurityEventRecord, SessionRecord,
    Tombstone, UserRecord,
};

use super::Caller;
use crate::limits::{EXPORT_ACCOUNTS_MAX, EXPORT_ITEMS_MAX, EXPORTS_CONCURRENT_MAX, PAGE_LEN_MAX};

/// Exports being built at once, across users: each may hold a large history in memory.
static EXPORTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(EXPORTS_CONCURRENT_MAX);
use crate::vault::profile::Profile;
use crate::{App, Error, RequestContext, Result};

/// Everything held about a user, for `GET /v1/me/export`.
#[derive(Debug)]
pub struct Export {
    pub user: UserRecord,
    /// Decrypted; the national id in clear when the step-up is recent enough to reveal it.
    pub profile: Option<Profile>,
    pub sessions: Vec<SessionRecord>,
    pub events: Vec<SecurityEventRecord>,
    pub accounts: Vec<(AccountRecord, Vec<HistoryEntry>)>,
    /// A list reached `EXPORT_ITEMS_MAX` and was cut.
    pub truncated: bool,
}

impl App {
    /// The caller, after a step-up within `auth.step_up_max_age_secs`; a caller with no second
    /// factor to step up with gets 403 `mfa_enrollment_required`, never a 401 they cannot
    /// satisfy.
    pub async fn require_step_up_or_enrolment<'c>(
        &self,
        ctx: &'c RequestContext,
    ) -> Result<&'c Caller> {
        match self.require_step_up(ctx) {
            Err(Error::StepUpRequired { max_age_secs }) => {
                let caller = ctx.caller()?;
                if self.has_any_factor(caller.user_id.as_str()).await? {
                    Err(Error::StepUpRequired { max_age_secs })
                } else {
                    Err(Error::MfaEnrollmentRequired)
                }
            }
            other => other,
        }
    }

    /// `DELETE /v1/me` (step-up): closes the caller's account; 409 `balance_not_zero` while
    /// any of its ledger accounts holds money.
    pub async fn close_account(&self, ctx: &RequestContext) -> Result<()> {
        let caller = self.require_step_up_or_enrolment(ctx).await?;
        let user_id = caller.user_id.as_str();
        let (unusable, _) = super::recovery::new_user_token()?;
        let admission = self.identity.hashing.admit().await?;
        let password_hash = self.identity.hashing.hash(admission, unusable).await?;
        // Not an email address at all: nobody can register it ahead of the closing.
        let email = format!("closed:{user_id}");
        let tombstone = Tombstone {
            email: &email,
            display_name: "Closed account",
            password_hash: &password_hash,
        };
        let mut event = self.event(ctx, user_id, "account_closed", None);
        // The closing request's client details go with the rest of the user's.
        event.user_agent = String::new();
        event.location = None;
        // The owner hears of it at the address the account had (a stolen session that drains
        // and closes an account does not go unnoticed); the notice is the one thing kept
        // with that address, until the mailer acknowledges it.
        let address = self
            .store
            .find_user(user_id)
            .await?
            .map(|user| user.email)
            .unwrap_or_default();
        let notice = store::NotificationRecord {
            id: 0,
            user_id: user_id.to_owned(),
            kind: "account_closed".to_owned(),
            created_at: event.created_at,
            data: serde_json::json!({ "to": address }).to_string(),
        };
        let announcement = Announcement {
            event: &event,
            notifications: std::slice::from_ref(&notice),
        };
        match self
            .store
            .close_account(user_id, &tombstone, event.created_at, &announcement)
            .await?
        {
            Closed::Done { revoked_sessions } => {
                for session in &revoked_sessions {
                    self.session_revoked(session);
                }
                self.vault
                    .forget(&crate::vault::profile::record_context(user_id));
                self.user_changed(user_id);
                // The replaced personal data must not linger in the SQLite log either (off the
                // response path: the truncation waits for writers).
                let store = self.store.clone();
                tokio::spawn(async move {
                    match store.truncate_log().await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(
                            "the log still holds pages of a closed account until the next checkpoint"
                        ),
                        Err(error) => {
                            tracing::warn!(%error, "cannot truncate the log after closing an account")
                        }
                    }
                });
                tracing::info!(target: "strongroom::security", user_id, "account closed");
                Ok(())
            }
            Closed::BalanceNotZero => Err(Error::BalanceNotZero),
            Closed::NotFound => Err(Error::InvalidToken),
        }
    }

    /// `GET /v1/me/export` (step-up): the user, the decrypted profile, live sessions,
    /// security events, accounts and their entries.
    pub async fn export(&self, ctx: &RequestContext) -> Result<Export> {
        let caller = self.require_step_up_or_enrolment(ctx).await?;
        let _building = EXPORTS.try_acquire().map_err(|_| Error::Unavailable {
            retry_after_secs: 2,
        })?;
        let user_id = caller.user_id.as_str();
        let user = self
            .store
            .find_user(user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        let profile = match self.profile(ctx, true).await {
            Ok(profile) => Some(profile),
            Err(Error::StepUpRequired { .. }) => Some(self.profile(ctx, false).await?),
            Err(Error::NotFound) => None,
            Err(error) => return Err(error),
        };
        let mut truncated = false;
        let (sessions, events) = self.export_history(user_id, &mut truncated).await?;
        let mut accounts = Vec::new();
        let mut after_currency: Option<String> = None;
        while accounts.len() < EXPORT_ACCOUNTS_MAX {
            let page = self
                .store
                .list_accounts(user_id, after_currency.as_deref(), PAGE_LEN_MAX)
                .await?;
            let last_page = page.len() < usize::try_from(PAGE_LEN_MAX).unwrap_or(0);
            for account in page {
                after_currency = Some(account.currency.clone());
                let entries = self.export_entries(&account.id, &mut truncated).await?;
                accounts.push((account, entries));
            }
            if last_page {
                break;
            }
        }
        self.record_event(
            ctx,
            user_id,
            "data_exported",
            Some(caller.session_id.as_str()),
        )
        .await?;
        Ok(Export {
            user,
            profile,
            sessions,
            events,
            accounts,
            truncated,
        })
    }

    /// The user's live sessions and security events, newest first.
    async fn export_history(
        &self,
        user_id: &str,
        truncated: &mut bool,
    ) -> Result<(Vec<SessionRecord>, Vec<SecurityEventRecord>)> {
        let now = self.clock.now_ms();
        let mut sessions: Vec<SessionRecord> = Vec::new();
        loop {
            let cursor = sessions.last().map(|s| s.id.clone());
            let page = self
                .store
                .list_sessions(user_id, now, cursor.as_deref(), PAGE_LEN_MAX)
                .await?;
            if collect(&mut sessions, page, truncated) {
                break;
            }
        }
        let mut events: Vec<SecurityEventRecord> = Vec::new();
        loop {
            let cursor = events.last().map(|e| e.id.clone());
            let page = self
                .store
                .list_security_events(user_id, cursor.as_deref(), PAGE_LEN_MAX)
                .await?;
            if collect(&mut events, page, truncated) {
                break;
            }
        }
        Ok((sessions, events))
    }

    async fn export_entries(
        &self,
        account_id: &str,
        truncated: &mut bool,
    ) -> Result<Vec<HistoryEntry>> {
        let mut entries: Vec<HistoryEntry> = Vec::new();
        loop {
            let query = store::HistoryQuery {
                after_seq: entries.last().map(|entry| entry.seq),
                newest_first: false,
                since: i64::MIN,
                until: i64::MAX,
                limit: PAGE_LEN_MAX,
            };
            let page = self.store.account_history(account_id, &query).await?;
            if collect(&mut entries, page, truncated) {
                return Ok(entries);
            }
        }
    }
}

/// Appends one page; `true` when the list is complete (a short page) or cut at
/// `EXPORT_ITEMS_MAX` (which sets `truncated`).
fn collect<T>(items: &mut Vec<T>, page: Vec<T>, truncated: &mut bool) -> bool {
    let short = page.len() < usize::try_from(PAGE_LEN_MAX).unwrap_or(0);
    let empty = page.is_empty();
    items.extend(page);
    if items.len() >= EXPORT_ITEMS_MAX {
        items.truncate(EXPORT_ITEMS_MAX);
        *truncated = true;
        return true;
    }
    short || empty
}
