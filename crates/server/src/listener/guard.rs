//! What keeps one host from holding the door shut: a cap on open connections per client
//! network (IPv4 address or IPv6 /64; trusted proxies are exempt, they carry everyone), and
//! the activity of a connection — requests in flight and when the last one ended — so a
//! connection that sends no first request, or sits idle between requests, is closed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// Open connections per client network on one listener.
#[derive(Debug)]
pub struct PerIpConnections {
    max: usize,
    exempt: Vec<IpNet>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; uncounted when dropped.
#[derive(Debug)]
pub struct IpSlot {
    table: Arc<PerIpConnections>,
    network: Option<IpAddr>,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let Some(network) = self.network else {
            return;
        };
        if let Ok(mut open) = self.table.open.lock()
            && let Some(count) = open.get_mut(&network)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&network);
            }
        }
    }
}

impl PerIpConnections {
    pub fn new(max: usize, exempt: Vec<IpNet>) -> Arc<PerIpConnections> {
        Arc::new(PerIpConnections {
            max,
            exempt,
            open: Mutex::default(),
        })
    }

    /// A slot for one more connection from `ip`, or `None` when its network is at the cap.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let ip = ip.to_canonical();
        if self.exempt.iter().any(|net| net.contains(&ip)) {
            return Some(IpSlot {
                table: self.clone(),
                network: None,
            });
        }
        let network = app::identity::throttle::client_network(ip);
        let mut open = self.open.lock().ok()?;
        let count = open.entry(network).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count = count.saturating_add(1);
        Some(IpSlot {
            table: self.clone(),
            network: Some(network),
        })
    }
}

/// Requests in flight on one connection and when it was last busy.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` when the last request ended.
    last_ms: AtomicU64,
    served: AtomicBool,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            served: AtomicBool::new(false),
        })
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn begin(&self) {
        self.served.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn end(&self) {
        self.last_ms.store(self.elapsed_ms(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Why the connection should be closed now, if it should: no first request within
    /// `first_request` of the connection's start, or nothing in flight for `idle`.
    pub fn expired(&self, first_request: Duration, idle: Duration) -> Option<&'static str> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let now = self.elapsed_ms();
        if !self.served.load(Ordering::Relaxed) {
            let limit = u64::try_from(first_request.as_millis()).unwrap_or(u64::MAX);
            return (now >= limit).then_some("no_first_request");
        }
        let quiet = now.saturating_sub(self.last_ms.load(Ordering::Relaxed));
        let limit = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        (quiet >= limit).then_some("idle")
    }
}

/// Decrements the in-flight count even when a request's future is dropped half-way.
#[derive(Debug)]
pub struct InFlight(pub Arc<Activity>);

impl InFlight {
    pub fn start(activity: &Arc<Activity>) -> InFlight {
        activity.begin();
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

#[cfg(test)]
mod tests;
