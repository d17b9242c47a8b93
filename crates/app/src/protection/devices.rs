//! Devices a user signs in from: the browser's device cookie is issued on its first
//! successful sign-in and remembered for the account (the login throttles and the Argon2 pool
//! then give it its own budget), and a sign-in from a (browser family + OS, country) kind the
//! user has not used in `NEW_DEVICE_AFTER_MS` writes a `new_device` event and notification.

use store::{DeviceSignIn, NotificationRecord};

use super::{Device, Location};
use crate::limits::NEW_DEVICE_AFTER_MS;
use crate::{App, RequestContext, Result};

impl App {
    /// After a successful sign-in: remembers the device; returns a new cookie value for a
    /// browser that had no (genuine) device cookie. Best effort: the sign-in has happened, so
    /// a failure here is logged and the browser simply stays unknown.
    pub(crate) async fn remember_sign_in_device(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        session_id: &str,
    ) -> Option<String> {
        match self.record_device(ctx, user_id, session_id).await {
            Ok(cookie) => cookie,
            Err(error) => {
                tracing::error!(%error, user_id, "the sign-in's device could not be recorded");
                None
            }
        }
    }

    async fn record_device(
        &self,
        ctx: &RequestContext,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<String>> {
        let (device_id, cookie) = match &ctx.device {
            Some(id) => (Some(id.clone()), None),
            None => match self.protection.device_cookies.issue() {
                Some((id, value)) => (Some(id), Some(value)),
                None => (None, None),
            },
        };
        let kind = Device::parse(&ctx.user_agent);
        let country = ctx
            .location
            .as_ref()
            .map_or("", |location| location.country.as_str());
        let now = self.clock.now_ms();
        let sign_in = DeviceSignIn {
            user_id,
            device_id: device_id.as_deref(),
            browser: &kind.browser,
            os: &kind.os,
            country,
        };
        // The announcement is prepared up front and written in the same transaction as the
        // device, only when its kind turns out to be new.
        let event = self.event(ctx, user_id, "new_device", Some(session_id));
        let data = serde_json::json!({
            "device": kind.label(),
            "location": ctx.location.as_ref().map(Location::label),
            "session_id": session_id,
        });
        let notification = NotificationRecord {
            id: 0,
            user_id: user_id.to_owned(),
            kind: "new_device".to_owned(),
            created_at: now,
            data: data.to_string(),
        };
        let announced = self
            .store
            .record_sign_in_device(
                &sign_in,
                now,
                now.saturating_sub(NEW_DEVICE_AFTER_MS),
                (&event, &notification),
            )
            .await?;
        if announced {
            metrics::counter!("strongroom_new_devices_total").increment(1);
            tracing::info!(target: "strongroom::security", kind = "new_device", user_id, "security event");
        }
        Ok(cookie)
    }
}
