//! Security events: what a user sees in their event list, recorded beside the change.

use store::SecurityEventRecord;

use crate::{App, RequestContext, Result, new_id};

impl App {
    /// Records a security event of `user_id` for the request of `ctx`.
    pub async fn record_event(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        kind: &str,
        session_id: Option<&str>,
    ) -> Result<()> {
        let event = self.event(ctx, user_id, kind, session_id);
        self.store.record_security_event(&event).await?;
        tracing::info!(target: "strongroom::security", kind, user_id, "security event");
        Ok(())
    }

    /// Records a security event off the response path: used where writing it inline would
    /// make one branch measurably slower than another (which email exists, whether a password
    /// was right). A failure to record is logged.
    pub fn record_event_detached(&self, ctx: &RequestContext, user_id: &str, kind: &'static str) {
        let event = self.event(ctx, user_id, kind, None);
        let store = self.store.clone();
        tokio::spawn(async move {
            match store.record_security_event(&event).await {
                Ok(()) => {
                    tracing::info!(target: "strongroom::security", kind, user_id = event.user_id, "security event");
                }
                Err(error) => {
                    tracing::error!(%error, kind, "security event could not be recorded");
                }
            }
        });
    }

    /// A request of `user_id` matched a screening rule: recorded off the response path (the
    /// request may be refused at once). Only ids and the request id are kept, never the
    /// payload.
    pub fn request_screened(
        &self,
        user_id: &str,
        ip: std::net::IpAddr,
        user_agent: &str,
        request_id: &str,
    ) {
        let ctx = RequestContext {
            ip,
            user_agent: super::clean_user_agent(user_agent),
            request_id: request_id.to_owned(),
            principal: crate::Principal::Anonymous,
            location: None,
            device: None,
        };
        self.record_event_detached(&ctx, user_id, "request_screened");
    }

    pub(crate) fn event(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        kind: &str,
        session_id: Option<&str>,
    ) -> SecurityEventRecord {
        SecurityEventRecord {
            id: new_id(),
            user_id: user_id.to_owned(),
            kind: kind.to_owned(),
            created_at: self.clock.now_ms(),
            ip: ctx.ip.to_string(),
            user_agent: ctx.user_agent.clone(),
            session_id: session_id.map(str::to_owned),
            location: ctx
                .location
                .as_ref()
                .map(crate::protection::Location::label),
            request_id: ctx.request_id.clone(),
        }
    }
}
