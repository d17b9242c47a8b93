//! The accept loop shared by the three listeners: TCP accept under a connection cap (per
//! listener, and per client network — `guard`), a bounded TLS handshake, HTTP/1.1 and HTTP/2
//! with a header-read timeout (slowloris), HTTP/2 keep-alive pings, a deadline for the first
//! request and an idle timeout, the peer address (and, internally, the peer identity)
//! attached to every request, and graceful shutdown that lets in-flight requests finish.

mod guard;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use api::client_ip::PeerAddr;
use api::principal::PeerIdentity;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

pub use crate::limits::{
    CONNECTIONS_PER_LISTENER_MAX, HTTP1_HEADER_BUFFER_BYTES_MAX, HTTP2_HEADER_LIST_BYTES_MAX,
    HTTP2_STREAMS_PER_CONNECTION_MAX,
};
use crate::tls::{InternalTls, ServiceDirectory};

/// Time a client has to finish the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time in-flight requests get to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);
/// HTTP/2 PING interval on a quiet connection, and how long the answer may take before the
/// connection is closed as dead.
pub const HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
pub const HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a connection checks whether it expired (no first request, idle).
const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// How long a connection asked to close (expired, or at shutdown) may take to finish before it
/// is dropped — a client that stops reading cannot keep its place.
pub const CONNECTION_CLOSE_GRACE: Duration = Duration::from_secs(10);

/// The limits every connection on a listener is held to.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time to send a request's headers (HTTP/1.1), and to start the first request after the
    /// connection opened (both protocols).
    pub header_read_timeout: Duration,
    /// A connection with nothing in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections per client network; trusted proxies are exempt.
    pub max_per_ip: usize,
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// How connections on one listener are secured.
pub enum Security {
    /// Loopback operations listener.
    Plain,
    Tls(TlsAcceptor),
    /// TLS with required client certificates, mapped to service principals; the acceptor is
    /// swapped when the client CRL changes.
    MutualTls(Arc<InternalTls>, Arc<ServiceDirectory>),
}

pub struct Listener {
    pub name: &'static str,
    pub tcp: TcpListener,
    pub security: Security,
    pub router: Router,
    pub limits: ConnectionLimits,
}

impl Listener {
    /// Serves until `shutdown` flips, then drains connections for at most `SHUTDOWN_GRACE`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let Listener {
            name,
            tcp,
            security,
            router,
            limits,
        } = self;
        let security = Arc::new(security);
        let slots = Arc::new(Semaphore::new(CONNECTIONS_PER_LISTENER_MAX));
        let per_ip =
            guard::PerIpConnections::new(limits.max_per_ip, limits.trusted_proxies.clone());
        loop {
            let (stream, peer) = tokio::select! {
                accepted = tcp.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(listener = name, error = %error, "accept failed");
                        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => break,
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::warn!(
                    listener = name,
                    "connection limit reached; closing new connection"
                );
                drop(stream);
                continue;
            };
            let Some(ip_slot) = per_ip.admit(peer.ip()) else {
                metrics::counter!("strongroom_connections_refused_total", "listener" => name, "reason" => "per_ip")
                    .increment(1);
                tracing::debug!(
                    listener = name,
                    "per-network connection cap reached; closing new connection"
                );
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let watcher = shutdown.clone();
            let security = security.clone();
            let router = router.clone();
            let limits = limits.clone();
            tokio::spawn(async move {
                let _slot = (slot, ip_slot);
                let connection = Connection {
                    name,
                    peer,
                    router,
                    limits,
                };
                let acceptor = match security.as_ref() {
                    Security::Plain => {
                        connection.serve(stream, None, watcher).await;
                        return;
                    }
                    Security::Tls(acceptor) => acceptor.clone(),
                    Security::MutualTls(internal, _) => internal.acceptor(),
                };
                let handshake =
                    tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                let Ok(Ok(tls)) = handshake else {
                    tracing::debug!(listener = name, peer = %peer, "TLS handshake failed");
                    return;
                };
                let identity = match security.as_ref() {
                    Security::MutualTls(_, directory) => Some(
                        directory.identify(
                            tls.get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|certs| certs.first()),
                            peer,
                        ),
                    ),
                    _ => None,
                };
                connection.serve(tls, identity, watcher).await;
            });
        }
        drop(tcp);
        // Every connection holds a slot until it ends: all slots back means all drained.
        let all = u32::try_from(CONNECTIONS_PER_LISTENER_MAX).unwrap_or(u32::MAX);
        if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(
                listener = name,
                "connections still open after the shutdown grace"
            );
        }
    }
}

struct Connection {
    name: &'static str,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
}

impl Connection {
    async fn serve<IO>(
        self,
        io: IO,
        identity: Option<PeerIdentity>,
        mut shutdown: watch::Receiver<bool>,
    ) where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (name, peer, router, limits) = (self.name, self.peer, self.router, self.limits);
        let activity = guard::Activity::new();
        let tracker = activity.clone();
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(PeerAddr(peer));
                if let Some(identity) = &identity {
                    request.extensions_mut().insert(identity.clone());
                }
                let in_flight = guard::InFlight::start(&tracker);
                let response = router.clone().oneshot(request.map(axum::body::Body::new));
                async move {
                    let response = response.await;
                    drop(in_flight);
                    response
                }
            },
        );
        let builder = http_builder(&limits);
        let connection = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        let mut checks = tokio::time::interval(EXPIRY_CHECK_INTERVAL);
        let mut closing = *shutdown.borrow();
        if closing {
            connection.as_mut().graceful_shutdown();
        }
        let close_by = tokio::time::sleep(CONNECTION_CLOSE_GRACE);
        tokio::pin!(close_by);
        let result = loop {
            tokio::select! {
                result = connection.as_mut() => break result,
                () = close_by.as_mut(), if closing => {
                    tracing::debug!(peer = %peer, "connection dropped after the close grace");
                    break Ok(());
                }
                changed = shutdown.changed(), if !closing => {
                    // A closed channel is a shutdown too (the listener is gone).
                    if changed.is_err() || *shutdown.borrow() {
                        closing = true;
                        close_by.as_mut().reset(tokio::time::Instant::now() + CONNECTION_CLOSE_GRACE);
                        connection.as_mut().graceful_shutdown();
                    }
                }
                _ = checks.tick(), if !closing => {
                    if let Some(reason) =
                        activity.expired(limits.header_read_timeout, limits.idle_timeout)
                    {
                        metrics::counter!("strongroom_connections_expired_total", "listener" => name, "reason" => reason)
                            .increment(1);
                        closing = true;
                        close_by.as_mut().reset(tokio::time::Instant::now() + CONNECTION_CLOSE_GRACE);
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        };
        if let Err(error) = result {
            tracing::debug!(peer = %peer, error = %error, "connection ended with an error");
        }
    }
}

/// HTTP/1.1 and HTTP/2 as every listener speaks them.
fn http_builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(HTTP1_HEADER_BUFFER_BYTES_MAX)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(HTTP2_KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(HTTP2_KEEP_ALIVE_TIMEOUT)
        .max_concurrent_streams(HTTP2_STREAMS_PER_CONNECTION_MAX)
        .max_header_list_size(HTTP2_HEADER_LIST_BYTES_MAX)
        .max_pending_accept_reset_streams(Some(HTTP2_STREAMS_PER_CONNECTION_MAX as usize));
    builder
}
