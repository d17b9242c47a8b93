//! `strongroom serve`: migrate, bind the three listeners, print their addresses, serve until
//! SIGTERM/SIGINT, drain, close the store.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use api::client_ip::TrustedProxies;
use api::{AppState, EdgeConfig, OpsState};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::listener::{Listener, Security};
use crate::tls::{self, ServiceDirectory};

pub async fn run(config: Config) -> anyhow::Result<()> {
    // Debug output of the configuration carries no secret (database URLs are redacted).
    tracing::info!(config = ?config, "effective configuration");
    let public_tls = tls::public_config(&config.tls)?;
    let internal_tls = tls::internal_config(&config.tls)?;
    let store = store::Store::connect(&config.database).await?;
    store.migrate().await?;
    tracing::info!(
        backend = store.backend().name(),
        schema_version = store.schema_version().await?.unwrap_or(0),
        "store ready"
    );
    let metrics = crate::telemetry::init_metrics()?;

    let state = AppState {
        store: store.clone(),
    };
    let edge = EdgeConfig {
        trusted_proxies: TrustedProxies::new(config.server.trusted_proxies.clone()),
        cors_allowed_origins: config.server.cors_allowed_origins.clone(),
    };
    if !config.server.ops_addr.ip().is_loopback() {
        tracing::warn!(addr = %config.server.ops_addr, "ops listener is not on loopback");
    }
    let directory = Arc::new(ServiceDirectory::new(&config.services));
    let timeout = config.server.header_read_timeout;
    let public_tcp = bind("server.public_addr", config.server.public_addr).await?;
    let internal_tcp = bind("server.internal_addr", config.server.internal_addr).await?;
    let ops_tcp = bind("server.ops_addr", config.server.ops_addr).await?;
    let ready = format!(
        "strongroom listening public=https://{} internal=https://{} ops=http://{}",
        public_tcp.local_addr()?,
        internal_tcp.local_addr()?,
        ops_tcp.local_addr()?
    );
    let listeners = [
        Listener {
            name: "public",
            tcp: public_tcp,
            security: Security::Tls(TlsAcceptor::from(public_tls)),
            router: api::public_router(state.clone(), &edge),
            header_read_timeout: timeout,
        },
        Listener {
            name: "internal",
            tcp: internal_tcp,
            security: Security::MutualTls(TlsAcceptor::from(internal_tls), directory),
            router: api::internal_router(state.clone(), &edge),
            header_read_timeout: timeout,
        },
        Listener {
            name: "ops",
            tcp: ops_tcp,
            security: Security::Plain,
            router: api::ops_router(OpsState {
                app: state.clone(),
                metrics,
            }),
            header_read_timeout: timeout,
        },
    ];
    tracing::info!(backend = store.backend().name(), "{ready}");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{ready}")?;
    stdout.flush()?;
    drop(stdout);

    let (stop_sender, stop) = watch::channel(false);
    let tasks: Vec<_> = listeners
        .into_iter()
        .map(|listener| tokio::spawn(listener.run(stop.clone())))
        .collect();
    wait_for_signal().await?;
    tracing::info!("shutdown requested; finishing in-flight requests");
    let _ = stop_sender.send(true);
    for task in tasks {
        let _ = task.await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn bind(key: &'static str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("{key}: cannot listen on {addr}"))
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {},
        _ = interrupt.recv() => {},
    }
    Ok(())
}
