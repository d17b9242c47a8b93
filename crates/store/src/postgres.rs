//! Reaching PostgreSQL: verified TLS (`database.ca_file`, an optional client certificate), the
//! refusal of anything short of verified TLS to a host other than this machine (unless
//! `database.allow_plaintext`), and a first connection whose failure names its cause — refused,
//! unreachable, TLS, authentication or no answer — instead of a pool's "timed out".

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};

use crate::StoreError;
use crate::limits::POSTGRES_CONNECT_TIMEOUT;

/// TLS settings beside `database.url` (whose own `sslmode`, `sslrootcert`, `sslcert` and
/// `sslkey` parameters count as well).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostgresTls {
    /// The CA that signed the server's certificate; set, the connection is `verify-full`
    /// unless the URL asks for `verify-ca`.
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key, both or neither.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Accept a connection without a verified server certificate to a non-loopback host.
    pub allow_plaintext: bool,
}

/// What stopped a first connection, as an operator acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectCause {
    /// Nothing listens at the address (the server is down or the port is wrong).
    Refused,
    /// The host name does not resolve or the network has no route to it.
    Unreachable,
    /// The TLS handshake failed: the server's certificate was not accepted, or it offers no TLS.
    Tls,
    /// The server refused the role: password, client certificate or `pg_hba.conf`.
    Authentication,
    /// No answer within `POSTGRES_CONNECT_TIMEOUT`.
    Timeout,
    /// The driver could not use the configured TLS files (not a certificate, not a key).
    Files,
    /// Anything else the server or the driver reported.
    Other,
}

impl ConnectCause {
    /// A fault of the configuration rather than of the database's availability.
    pub fn is_configuration(self) -> bool {
        matches!(
            self,
            ConnectCause::Tls | ConnectCause::Authentication | ConnectCause::Files
        )
    }

    fn advice(self) -> &'static str {
        match self {
            ConnectCause::Refused => {
                "connection refused: is PostgreSQL running and listening on that address?"
            }
            ConnectCause::Unreachable => "host unreachable: check the host name and the network",
            ConnectCause::Tls => {
                "TLS failed: check database.ca_file (the CA that signed the server's certificate), \
                 the host name in database.url, and that the server has ssl = on"
            }
            ConnectCause::Authentication => {
                "authentication failed: check the role and password in database.url, \
                 database.client_cert/client_key, and the server's pg_hba.conf"
            }
            ConnectCause::Timeout => "no answer in time: check the address and any firewall",
            ConnectCause::Files => {
                "the TLS files cannot be used: check database.ca_file, client_cert and client_key"
            }
            ConnectCause::Other => "the connection failed",
        }
    }
}

/// A first connection that failed, with its cause and the driver's own words (which never hold
/// the password).
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to PostgreSQL at {target}: {} ({detail})", cause.advice())]
pub struct ConnectFailure {
    pub cause: ConnectCause,
    pub target: String,
    pub detail: String,
}

/// URL parameters that sqlx and libpq (`pg_dump`, `pg_restore`) read alike. TLS files are
/// configured with `database.ca_file`, `client_cert` and `client_key`, so the server and the
/// backup tools use the same ones; anything else is refused rather than ignored.
const URL_PARAMETERS: &[&str] = &[
    "sslmode",
    "host",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// Refuses URL parameters the two clients would read differently (or not at all), and lists
/// of hosts, naming only the parameter (its value may be a secret).
fn check_parameters(url: &str) -> Result<(), StoreError> {
    let parsed =
        url::Url::parse(url).map_err(|_| StoreError::InvalidUrl("unparseable PostgreSQL URL"))?;
    let several = |host: &str| host.contains(',');
    if parsed.host_str().is_some_and(several) {
        return Err(StoreError::Transport(
            "database.url names several hosts; name one".into(),
        ));
    }
    for (key, value) in parsed.query_pairs() {
        if !URL_PARAMETERS.contains(&key.as_ref()) {
            let hint = if key.starts_with("ssl") {
                "; set database.ca_file, client_cert and client_key instead"
            } else {
                ""
            };
            return Err(StoreError::Transport(format!(
                "database.url: the parameter `{key}` is not supported{hint}"
            )));
        }
        if key == "host" && several(&value) {
            return Err(StoreError::Transport(
                "database.url names several hosts; name one".into(),
            ));
        }
    }
    Ok(())
}

/// The connection options of `url` with `tls` applied.
pub(crate) fn options(
    url: &SecretString,
    tls: &PostgresTls,
) -> Result<PgConnectOptions, StoreError> {
    check_parameters(url.expose_secret())?;
    let mut options = PgConnectOptions::from_str(url.expose_secret())
        .map_err(|_| StoreError::InvalidUrl("unparseable PostgreSQL URL"))?;
    if let Some(ca_file) = &tls.ca_file {
        match options.get_ssl_mode() {
            PgSslMode::Disable => {
                return Err(StoreError::Transport(
                    "database.ca_file is set but database.url says sslmode=disable".into(),
                ));
            }
            PgSslMode::VerifyCa | PgSslMode::VerifyFull => {}
            PgSslMode::Allow | PgSslMode::Prefer | PgSslMode::Require => {
                options = options.ssl_mode(PgSslMode::VerifyFull);
            }
        }
        options = options.ssl_root_cert(ca_file);
    }
    match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => options = options.ssl_client_cert(cert).ssl_client_key(key),
        (None, None) => {}
        _ => {
            return Err(StoreError::Transport(
                "database.client_cert and database.client_key go together".into(),
            ));
        }
    }
    check_transport(&options, tls.allow_plaintext)?;
    Ok(options)
}

/// Whether the server's certificate is verified and names the host. `verify-ca` does not
/// count: the driver trusts the public (Mozilla) roots beside `database.ca_file`, so without
/// the name check any certificate a public CA issued for any name would pass.
fn verified(mode: PgSslMode) -> bool {
    matches!(mode, PgSslMode::VerifyFull)
}

/// The parameters that make libpq (`pg_dump`, `pg_restore`) connect exactly as the server
/// does: the effective `sslmode` and the configured TLS files.
pub(crate) fn libpq_parameters(
    url: &SecretString,
    tls: &PostgresTls,
) -> Result<Vec<(&'static str, String)>, StoreError> {
    let mode = match options(url, tls)?.get_ssl_mode() {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    };
    let mut parameters = vec![("sslmode", mode.to_owned())];
    for (name, path) in [
        ("sslrootcert", &tls.ca_file),
        ("sslcert", &tls.client_cert),
        ("sslkey", &tls.client_key),
    ] {
        if let Some(path) = path {
            parameters.push((name, path.display().to_string()));
        }
    }
    Ok(parameters)
}

/// A Unix socket, a loopback address or `localhost`: traffic that never leaves this machine.
fn is_local(options: &PgConnectOptions) -> bool {
    if options.get_socket().is_some() {
        return true;
    }
    let host = options.get_host();
    if host.eq_ignore_ascii_case("localhost") || host.starts_with('/') {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a connection to another host without a verified server certificate: `sslmode`
/// `disable`, `allow`, `prefer` (the default, which falls back to plaintext) and `require`
/// (encrypted, but to whoever answers) all let a network attacker read or impersonate the
/// database.
fn check_transport(options: &PgConnectOptions, allow_plaintext: bool) -> Result<(), StoreError> {
    if allow_plaintext || is_local(options) || verified(options.get_ssl_mode()) {
        return Ok(());
    }
    Err(StoreError::Transport(format!(
        "database.url names {}, which is not this machine, without a verified TLS connection \
         (sslmode=verify-full; verify-ca does not check the host name): set database.ca_file to \
         the CA of its certificate, or set database.allow_plaintext = true on a network you trust",
        options.get_host()
    )))
}

/// `host:port` (or the socket path) for messages; never the user or password.
fn target(options: &PgConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// One connection made directly, so that a failure keeps its cause.
pub(crate) async fn probe(options: &PgConnectOptions) -> Result<(), StoreError> {
    let failure = |cause, detail: String| {
        StoreError::Unreachable(ConnectFailure {
            cause,
            target: target(options),
            detail,
        })
    };
    match tokio::time::timeout(
        POSTGRES_CONNECT_TIMEOUT,
        PgConnection::connect_with(options),
    )
    .await
    {
        Err(_) => Err(failure(
            ConnectCause::Timeout,
            format!("waited {} s", POSTGRES_CONNECT_TIMEOUT.as_secs()),
        )),
        Ok(Err(error)) => Err(failure(classify(&error), error.to_string())),
        Ok(Ok(connection)) => {
            // A failed goodbye is no reason to refuse a database that just answered.
            let _ = connection.close().await;
            Ok(())
        }
    }
}

/// The cause of a failed first connection.
fn classify(error: &sqlx::Error) -> ConnectCause {
    match error {
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => ConnectCause::Refused,
            std::io::ErrorKind::TimedOut => ConnectCause::Timeout,
            std::io::ErrorKind::HostUnreachable
            | std::io::ErrorKind::NetworkUnreachable
            | std::io::ErrorKind::NotFound => ConnectCause::Unreachable,
            // Name resolution failures arrive as `Other` with the resolver's message.
            _ if io.to_string().contains("lookup") => ConnectCause::Unreachable,
            // rustls reports a rejected certificate as an I/O error of kind `InvalidData`.
            std::io::ErrorKind::InvalidData => ConnectCause::Tls,
            _ => ConnectCause::Other,
        },
        sqlx::Error::Tls(_) => ConnectCause::Tls,
        sqlx::Error::Configuration(_) => ConnectCause::Files,
        // Class 28: invalid authorization specification / invalid password.
        sqlx::Error::Database(database)
            if database.code().is_some_and(|code| code.starts_with("28")) =>
        {
            ConnectCause::Authentication
        }
        _ => ConnectCause::Other,
    }
}

#[cfg(test)]
mod tests;
