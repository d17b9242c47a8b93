//! The accept loop shared by the three listeners: TCP accept under a connection cap, a
//! bounded TLS handshake, HTTP/1.1 and HTTP/2 with a header-read timeout (slowloris), the peer
//! address (and, internally, the peer identity) attached to every request, and graceful
//! shutdown that lets in-flight requests finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use api::client_ip::PeerAddr;
use api::principal::PeerIdentity;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
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
    pub header_read_timeout: Duration,
}

impl Listener {
    /// Serves until `shutdown` flips, then drains connections for at most `SHUTDOWN_GRACE`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let Listener {
            name,
            tcp,
            security,
            router,
            header_read_timeout,
        } = self;
        let security = Arc::new(security);
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(CONNECTIONS_PER_LISTENER_MAX));
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
            let _ = stream.set_nodelay(true);
            let watcher = graceful.watcher();
            let security = security.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let connection = Connection {
                    peer,
                    router,
                    header_read_timeout,
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
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
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
    peer: SocketAddr,
    router: Router,
    header_read_timeout: Duration,
}

impl Connection {
    async fn serve<IO>(
        self,
        io: IO,
        identity: Option<PeerIdentity>,
        watcher: hyper_util::server::graceful::Watcher,
    ) where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            peer,
            router,
            header_read_timeout,
        } = self;
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(PeerAddr(peer));
                if let Some(identity) = &identity {
                    request.extensions_mut().insert(identity.clone());
                }
                router.clone().oneshot(request.map(axum::body::Body::new))
            },
        );
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .max_buf_size(HTTP1_HEADER_BUFFER_BYTES_MAX)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(HTTP2_STREAMS_PER_CONNECTION_MAX)
            .max_header_list_size(HTTP2_HEADER_LIST_BYTES_MAX)
            .max_pending_accept_reset_streams(Some(HTTP2_STREAMS_PER_CONNECTION_MAX as usize));
        let connection = builder.serve_connection(TokioIo::new(io), service);
        if let Err(error) = watcher.watch(connection).await {
            tracing::debug!(peer = %peer, error = %error, "connection ended with an error");
        }
    }
}
