//! rustls configurations for the public and internal listeners (the internal one reloaded
//! when its CRL changes), and the mapping from a verified client certificate to a service
//! principal by its one `spiffe://strongroom/service/NAME` URI SAN.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use api::principal::{PeerIdentity, ServicePrincipal};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme,
};
use tokio_rustls::TlsAcceptor;

use crate::config::{ConfigError, ServiceConfig, TlsConfig};
use crate::{crl, pki};

/// ALPN protocols offered: HTTP/2 first, then HTTP/1.1.
const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// TLS 1.3 and 1.2 only, AEAD suites with forward secrecy only — stated explicitly rather
/// than inherited from a library default.
fn crypto_provider() -> Arc<CryptoProvider> {
    let suites = vec![
        provider::cipher_suite::TLS13_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS13_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(CryptoProvider {
        cipher_suites: suites,
        ..provider::default_provider()
    })
}

const PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn load_certs(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|_| ConfigError {
            key: key.into(),
            reason: format!("cannot read PEM certificates from {}", path.display()),
        })?;
    if certs.is_empty() {
        return Err(ConfigError {
            key: key.into(),
            reason: format!("no certificate in {}", path.display()),
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    PrivateKeyDer::from_pem_file(path).map_err(|_| ConfigError {
        key: "tls.key".into(),
        reason: format!("cannot read a PEM private key from {}", path.display()),
    })
}

fn finish(mut config: ServerConfig) -> Arc<ServerConfig> {
    config.alpn_protocols = ALPN_PROTOCOLS
        .iter()
        .map(|protocol| protocol.to_vec())
        .collect();
    config.ignore_client_order = true;
    Arc::new(config)
}

/// Public listener: server authentication only.
pub fn public_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, ConfigError> {
    let certs = load_certs("tls.cert", &tls.cert)?;
    let key = load_key(&tls.key)?;
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|_| ConfigError {
            key: "tls".into(),
            reason: "unsupported protocol set".into(),
        })?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|_| ConfigError {
            key: "tls.key".into(),
            reason: "does not match tls.cert".into(),
        })?;
    Ok(finish(config))
}

/// Internal listener: a client certificate chaining to the internal CA — and, when
/// `tls.internal_client_crl` is set, not listed in that CRL — is required; without one the
/// handshake fails.
fn internal_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, ConfigError> {
    const KEY: &str = "tls.internal_client_ca";
    let cas = load_certs(KEY, &tls.internal_client_ca)?;
    let mut roots = RootCertStore::empty();
    for cert in &cas {
        roots.add(cert.clone()).map_err(|_| ConfigError {
            key: KEY.into(),
            reason: "not a usable CA certificate".into(),
        })?;
    }
    let mut builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto_provider());
    if let Some(path) = &tls.internal_client_crl {
        let crl = crl::read(path, &cas)?;
        if crl.is_stale(app::Clock::System.now_utc()) {
            tracing::warn!(
                path = %path.display(),
                "the client CRL is past its next update; it still applies, but reissue it \
                 (strongroom pki revoke-client rewrites it)"
            );
        }
        tracing::info!(
            path = %path.display(),
            revoked = crl.revoked.len(),
            "client CRL loaded"
        );
        // The chain is leaf → internal CA, and the CA itself is the trust anchor: only the
        // leaf has a revocation status. An expired CRL still applies (it lists at least what
        // it listed); a certificate the CRL cannot speak for is refused.
        builder = builder
            .with_crls([crl.der])
            .only_check_end_entity_revocation();
    }
    let verifier = builder.build().map_err(|_| ConfigError {
        key: if tls.internal_client_crl.is_some() {
            crl::CRL_KEY.into()
        } else {
            KEY.into()
        },
        reason: "cannot build a client verifier".into(),
    })?;
    let certs = load_certs("tls.cert", &tls.cert)?;
    let key = load_key(&tls.key)?;
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|_| ConfigError {
            key: "tls".into(),
            reason: "unsupported protocol set".into(),
        })?
        .with_client_cert_verifier(Arc::new(RevocationLogging { inner: verifier }))
        .with_single_cert(certs, key)
        .map_err(|_| ConfigError {
            key: "tls.key".into(),
            reason: "does not match tls.cert".into(),
        })?;
    Ok(finish(config))
}

/// The webpki client verifier, plus a WARN line naming the serial of every revoked
/// certificate a client presents (rustls itself only reports "revoked").
#[derive(Debug)]
struct RevocationLogging {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for RevocationLogging {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_client_cert(end_entity, intermediates, now);
        if let Err(rustls::Error::InvalidCertificate(CertificateError::Revoked)) = &verdict {
            let serial = x509_parser::parse_x509_certificate(end_entity.as_ref())
                .map(|(_, cert)| pki::serial_hex(cert.raw_serial()))
                .unwrap_or_default();
            tracing::warn!(
                serial = %serial,
                "refused a revoked client certificate (listed in tls.internal_client_crl)"
            );
        }
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }
}

/// The internal listener's TLS configuration. New connections take the current acceptor;
/// `watch_client_crl` swaps in a rebuilt one when the CRL file changes, so a revocation takes
/// effect without a restart (established connections keep the identity they proved).
pub struct InternalTls {
    tls: TlsConfig,
    current: RwLock<TlsAcceptor>,
    /// The CRL file as it was when `current` was built from it.
    crl_version: Option<FileVersion>,
}

impl InternalTls {
    /// Builds the configuration (see `internal_config`).
    pub fn load(tls: &TlsConfig) -> Result<Self, ConfigError> {
        // Noted before reading, so a change while loading is picked up by the next check.
        let crl_version = tls.internal_client_crl.as_deref().and_then(file_version);
        let config = internal_config(tls)?;
        Ok(InternalTls {
            tls: tls.clone(),
            current: RwLock::new(TlsAcceptor::from(config)),
            crl_version,
        })
    }

    /// The acceptor for a new connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        // A writer never panics while holding the lock, so a poisoned lock still holds a
        // complete acceptor.
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, config: Arc<ServerConfig>) {
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = TlsAcceptor::from(config);
    }
}

/// How often the CRL file is checked for changes.
pub const CRL_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileVersion {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn file_version(path: &Path) -> Option<FileVersion> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some(FileVersion {
        len: metadata.len(),
        modified: metadata.modified().ok(),
        inode: metadata.ino(),
    })
}

/// Checks `tls.internal_client_crl` every `CRL_RELOAD_INTERVAL` and, when the file changed,
/// rebuilds the internal configuration. A CRL that does not load leaves the previous
/// configuration serving and logs an ERROR (once per change of the file).
pub async fn watch_client_crl(internal: Arc<InternalTls>) {
    let Some(path) = internal.tls.internal_client_crl.clone() else {
        return;
    };
    let mut seen = internal.crl_version;
    let mut interval = tokio::time::interval(CRL_RELOAD_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let version = file_version(&path);
        if version == seen {
            continue;
        }
        seen = version;
        if version.is_none() {
            tracing::error!(
                path = %path.display(),
                "tls.internal_client_crl: the CRL file is gone; still enforcing the last one loaded"
            );
            continue;
        }
        let rebuild_tls = internal.tls.clone();
        let rebuilt = tokio::task::spawn_blocking(move || internal_config(&rebuild_tls)).await;
        match rebuilt {
            Ok(Ok(config)) => {
                internal.replace(config);
                tracing::info!(path = %path.display(), "client CRL reloaded");
            }
            Ok(Err(error)) => tracing::error!(
                error = %error,
                "client CRL not reloaded; still enforcing the last one loaded"
            ),
            Err(_) => tracing::error!("client CRL reload task failed"),
        }
    }
}

/// Why a client certificate from the internal CA names no principal.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    NoServiceUri,
    SeveralServices,
    ForeignUri,
    CommonNameDiffers,
    Unparsable,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::NoServiceUri => "it has no spiffe://strongroom/service/NAME URI SAN",
            Refusal::SeveralServices => "its URI SANs name more than one service",
            Refusal::ForeignUri => "it has a URI SAN that is not a strongroom service URI",
            Refusal::CommonNameDiffers => {
                "its common name names another principal than its URI SAN"
            }
            Refusal::Unparsable => "it cannot be parsed",
        })
    }
}

/// The principal a verified client certificate names: exactly one service URI SAN
/// `spiffe://strongroom/service/NAME` (repeats allowed), no other URI SAN, and any common
/// name equal to NAME or to that URI.
fn principal_of(leaf: &CertificateDer<'_>) -> Result<String, Refusal> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|_| Refusal::Unparsable)?;
    let san = cert
        .subject_alternative_name()
        .map_err(|_| Refusal::Unparsable)?;
    let mut named: Option<&str> = None;
    for general_name in san.iter().flat_map(|san| san.value.general_names.iter()) {
        let x509_parser::extensions::GeneralName::URI(uri) = general_name else {
            continue;
        };
        let name = pki::service_name_from_uri(uri).ok_or(Refusal::ForeignUri)?;
        match named {
            Some(previous) if previous != name => return Err(Refusal::SeveralServices),
            _ => named = Some(name),
        }
    }
    let name = named.ok_or(Refusal::NoServiceUri)?;
    let uri = pki::service_uri(name);
    for common_name in cert.subject().iter_common_name() {
        let common_name = common_name.as_str().map_err(|_| Refusal::Unparsable)?;
        if common_name != name && common_name != uri {
            return Err(Refusal::CommonNameDiffers);
        }
    }
    Ok(name.to_owned())
}

/// Configured service principals, looked up by the principal a certificate names.
#[derive(Debug, Default)]
pub struct ServiceDirectory {
    services: BTreeMap<String, Arc<ServicePrincipal>>,
}

impl ServiceDirectory {
    pub fn new(services: &[ServiceConfig]) -> Self {
        let services = services
            .iter()
            .map(|service| {
                let principal = ServicePrincipal {
                    name: service.name.clone(),
                    scopes: service.scopes.iter().cloned().collect::<BTreeSet<_>>(),
                };
                (service.principal.clone(), Arc::new(principal))
            })
            .collect();
        ServiceDirectory { services }
    }

    /// Maps the leaf certificate (already verified by rustls) to a principal by its service
    /// URI SAN. A certificate whose names disagree is refused like an unknown one (403), with
    /// a WARN line saying why.
    pub fn identify(&self, leaf: Option<&CertificateDer<'_>>, peer: SocketAddr) -> PeerIdentity {
        let Some(leaf) = leaf else {
            return PeerIdentity::Unrecognised;
        };
        match principal_of(leaf) {
            Ok(name) => match self.services.get(&name) {
                Some(principal) => PeerIdentity::Service(principal.clone()),
                None => {
                    // Issued by our CA but not configured: an onboarding mistake or a stale
                    // certificate; the operator should hear of it.
                    metrics::counter!("strongroom_internal_unknown_principals_total").increment(1);
                    tracing::warn!(
                        peer = %peer,
                        principal = %name,
                        "client certificate names service {name:?}, which has no [services] entry; refused"
                    );
                    PeerIdentity::Unrecognised
                }
            },
            Err(refusal) => {
                let serial = x509_parser::parse_x509_certificate(leaf.as_ref())
                    .map(|(_, cert)| pki::serial_hex(cert.raw_serial()))
                    .unwrap_or_default();
                tracing::warn!(
                    peer = %peer,
                    serial = %serial,
                    "client certificate maps to no service principal: {refusal}"
                );
                PeerIdentity::Unrecognised
            }
        }
    }
}

#[cfg(test)]
mod tests;
