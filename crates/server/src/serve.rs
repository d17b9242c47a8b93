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

use http::HeaderValue;
use identity::SigningKeys;

use crate::config::{Config, ConfigError};
use crate::listener::{Listener, Security};
use crate::tls::{self, InternalTls, ServiceDirectory};

pub async fn run(config: Config) -> anyhow::Result<()> {
    // Debug output of the configuration carries no secret (database URLs are redacted).
    tracing::info!(config = ?config, "effective configuration");
    let public_tls = tls::public_config(&config.tls)?;
    let internal_tls = Arc::new(InternalTls::load(&config.tls)?);
    let store = open_store(&config).await?;
    tracing::info!(
        backend = store.backend().name(),
        schema_version = store.schema_version().await?.unwrap_or(0),
        "store ready"
    );
    let metrics = crate::telemetry::init_metrics()?;

    let app = Arc::new(build_app(&config, store.clone()).await?);
    app.spawn_background_jobs();
    app.spawn_cluster_jobs();
    let state = AppState {
        app: app.clone(),
        trusted_origins: Arc::new(trusted_origins(&config)?),
    };
    let edge = EdgeConfig {
        trusted_proxies: TrustedProxies::new(
            config.server.trusted_proxies.clone(),
            config.server.forwarded_header,
        ),
        cors_allowed_origins: config.server.cors_allowed_origins.clone(),
    };
    if !config.server.ops_addr.ip().is_loopback() {
        tracing::warn!(addr = %config.server.ops_addr, "ops listener is not on loopback");
    }
    let directory = Arc::new(ServiceDirectory::new(&config.services));
    let limits = crate::listener::ConnectionLimits {
        header_read_timeout: config.server.header_read_timeout,
        idle_timeout: config.server.idle_timeout,
        max_per_ip: config.server.max_connections_per_ip,
        trusted_proxies: config.server.trusted_proxies.clone(),
    };
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
            limits: limits.clone(),
        },
        Listener {
            name: "internal",
            tcp: internal_tcp,
            security: Security::MutualTls(internal_tls.clone(), directory),
            router: api::internal_router(state.clone(), &edge),
            limits: limits.clone(),
        },
        Listener {
            name: "ops",
            tcp: ops_tcp,
            security: Security::Plain,
            router: api::ops_router(OpsState {
                app: state.clone(),
                metrics,
                metrics_token: config.server.ops_token.clone().map(Arc::new),
            }),
            limits: limits.clone(),
        },
    ];
    tracing::info!(backend = store.backend().name(), "{ready}");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{ready}")?;
    stdout.flush()?;
    drop(stdout);

    let crl_watch = tokio::spawn(tls::watch_client_crl(internal_tls));
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
    crl_watch.abort();
    // The last checkpoint pins everything this instance wrote (a failure is logged).
    app.checkpoint_round().await;
    // SQLite: everything in the database file, the log emptied.
    match store.truncate_log().await {
        Ok(true) => {}
        Ok(false) => tracing::warn!("the SQLite log was still in use at shutdown"),
        Err(error) => tracing::warn!(%error, "cannot checkpoint the SQLite log at shutdown"),
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The configured KEK provider (`keys.provider`).
/// The store as `database.url` names it, with its schema current: migrated here when the same
/// role owns it, or — with a least-privilege runtime role (`database.migrate_url` set) —
/// refused unless `strongroom migrate` already brought it up to date.
pub async fn open_store(config: &Config) -> anyhow::Result<store::Store> {
    let store = store::Store::connect(&config.database).await?;
    if config.database_owner.is_none() {
        store.migrate().await?;
    } else if !store.is_current().await? {
        store.close().await;
        anyhow::bail!(
            "the database schema is not current; run `strongroom migrate` (it uses database.migrate_url)"
        );
    }
    Ok(store)
}

pub fn build_kek_provider(config: &Config) -> anyhow::Result<crypto::KekProvider> {
    if let Some(openbao) = &config.keys.openbao {
        let transit = crypto::openbao::OpenBaoTransit::new(
            &openbao.addr,
            openbao.token.clone(),
            &openbao.transit_key,
        )
        .map_err(|error| ConfigError {
            key: "keys.addr".into(),
            reason: error.to_string(),
        })?;
        return Ok(crypto::KekProvider::OpenBao(transit));
    }
    if let Some(hsm) = &config.keys.pkcs11 {
        let hsm = crypto::pkcs11::Pkcs11Hsm::open(
            &hsm.module,
            &hsm.token_label,
            hsm.pin.clone(),
            &hsm.key_label,
        )
        .map_err(|_| ConfigError {
            key: "keys.module".into(),
            reason: "cannot load the PKCS#11 module or find the token".into(),
        })?;
        return Ok(crypto::KekProvider::Pkcs11(hsm));
    }
    let keyring =
        crypto::LocalKeyring::load(&config.keys.local_kek_file).map_err(|error| ConfigError {
            key: "keys.local_kek_file".into(),
            reason: error.to_string(),
        })?;
    Ok(crypto::KekProvider::local(keyring))
}

pub fn build_vault(config: &Config, clock: app::Clock) -> anyhow::Result<app::vault::Vault> {
    let blind_index =
        crypto::LocalKek::from_file(&config.keys.blind_index_key_file).map_err(|error| {
            ConfigError {
                key: "keys.blind_index_key_file".into(),
                reason: error.to_string(),
            }
        })?;
    Ok(app::vault::Vault::new(
        build_kek_provider(config)?,
        blind_index.mac_key("strongroom/blind-index/national-id/v1"),
        clock,
    ))
}

fn auth_settings(config: &Config) -> app::AuthSettings {
    app::AuthSettings {
        access_token_ttl_secs: config.auth.access_token_ttl_secs,
        refresh_family_ttl_secs: config.auth.refresh_family_ttl_secs,
        step_up_max_age_secs: config.auth.step_up_max_age_secs,
        require_verified_email: config.auth.require_verified_email,
    }
}

fn ledger_settings(config: &Config) -> app::LedgerSettings {
    app::LedgerSettings {
        currencies: config.ledger.currencies.clone(),
        step_up_amount: config.ledger.step_up_amount,
        four_eyes_amount: config.ledger.four_eyes_amount,
    }
}

/// The token-signing keys from `keys.signing_key_file` (re-read while serving), and the key id
/// that signs.
fn signing_keys(config: &Config) -> anyhow::Result<(app::identity::keyring::KeyRing, String)> {
    let pem = std::fs::read(&config.keys.signing_key_file).map_err(|_| ConfigError {
        key: "keys.signing_key_file".into(),
        reason: "cannot be read".into(),
    })?;
    let keys =
        SigningKeys::from_pem_bundle(&pem, &config.server.public_origin, &config.server.audiences)
            .map_err(|error| ConfigError {
                key: "keys.signing_key_file".into(),
                reason: error.to_string(),
            })?;
    let kid = keys.active_kid().unwrap_or_default().to_owned();
    let ring = app::identity::keyring::KeyRing::watched(
        keys,
        &pem,
        config.keys.signing_key_file.clone(),
        &config.server.public_origin,
        &config.server.audiences,
    );
    Ok((ring, kid))
}

/// The application: store, ledger writer, clock, identity services and vault, with
/// second-factor secrets sealed the old way moved under the KEK provider first.
async fn build_app(config: &Config, store: store::Store) -> anyhow::Result<app::App> {
    let clock = app::Clock::System;
    let (keys, kid) = signing_keys(config)?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tracing::info!(kid, argon2_slots = cores, "identity ready");
    let identity = app::identity::Identity {
        verified: Default::default(),
        keys,
        // One core stays free of Argon2 for the async workers that move money.
        hashing: app::identity::HashingPool::new(cores.saturating_sub(1))?,
        sessions: app::identity::SessionTable::load(&store, clock.clone()).await?,
        throttles: app::identity::Throttles::default(),
        webauthn: app::identity::relying_party(&config.server.public_origin).map_err(|reason| {
            ConfigError {
                key: "server.public_origin".into(),
                reason,
            }
        })?,
    };
    let vault = build_vault(config, clock.clone())?;
    let legacy =
        app::vault::migrate_legacy_factor_secrets(&store, &vault, &config.keys.local_kek_file)
            .await
            .map_err(|reason| anyhow::anyhow!("second-factor secrets: {reason}"))?;
    if legacy != app::vault::LegacyMigration::default() {
        tracing::info!(
            totp_resealed = legacy.totp_resealed,
            totp_failed = legacy.totp_failed,
            legacy_recovery_codes = legacy.legacy_recovery_codes,
            "second-factor secrets moved under the KEK provider"
        );
    }
    store
        .ensure_settlement_accounts(&config.ledger.currencies, clock.now_ms())
        .await?;
    let writer = store::LedgerWriter::start(store.clone())
        .context("cannot start the ledger writer thread")?;
    let started_ms = clock.now_ms();
    Ok(app::App {
        store,
        writer,
        clock,
        identity,
        vault,
        protection: build_protection(config)?,
        cluster: build_cluster(config)?,
        ledger_admission: Default::default(),
        auth: auth_settings(config),
        ledger: ledger_settings(config),
        audit: app::audit::Audit::new(
            config.audit.checkpoint_secs,
            config.audit.signing_key_file.clone(),
            started_ms,
        ),
    })
}

/// `[redis]` and `[rate_limits]`. Redis is connected lazily: an instance starts (limiting
/// locally) while Redis is down, and goes global once it answers.
fn build_cluster(config: &Config) -> anyhow::Result<app::cluster::Cluster> {
    use secrecy::ExposeSecret;
    let redis = match &config.redis_url {
        Some(url) => Some(
            app::cluster::RedisLink::new(url.expose_secret(), app::new_id()).map_err(|reason| {
                ConfigError {
                    key: "redis.url".into(),
                    reason,
                }
            })?,
        ),
        None => None,
    };
    Ok(app::cluster::Cluster::new(config.rate_limits, redis))
}

/// `[protection]`: the GeoIP database must be readable at start (exit 2 otherwise).
pub fn build_protection(config: &Config) -> anyhow::Result<app::protection::Protection> {
    let protection = &config.protection;
    let geo = match &protection.geoip_db {
        Some(path) => app::protection::GeoIp::open(path).map_err(|reason| ConfigError {
            key: "protection.geoip_db".into(),
            reason: format!("cannot be read as a GeoIP2 City database: {reason}"),
        })?,
        None => app::protection::GeoIp::disabled(),
    };
    let device_key = crypto::LocalKek::from_file(&config.keys.blind_index_key_file)
        .map_err(|error| ConfigError {
            key: "keys.blind_index_key_file".into(),
            reason: error.to_string(),
        })?
        .mac_key("strongroom/device-cookie/v1");
    let mut built = app::protection::Protection::new(
        geo,
        app::protection::DeviceCookies::new(device_key),
        protection.impossible_travel_kmh,
        protection.blocked_countries.iter().cloned().collect(),
    );
    built.screening = protection.screening;
    Ok(built)
}

/// Origins allowed on cookie endpoints: our own and the CORS allowlist.
fn trusted_origins(config: &Config) -> anyhow::Result<Vec<HeaderValue>> {
    let mut origins = vec![HeaderValue::from_str(&config.server.public_origin)?];
    origins.extend(config.server.cors_allowed_origins.iter().cloned());
    Ok(origins)
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
