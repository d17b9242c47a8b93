//! rustls configurations for the public and internal listeners, and the mapping from a
//! verified client certificate to a service principal by its one
//! `spiffe://strongroom/service/NAME` URI SAN.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use api::principal::{PeerIdentity, ServicePrincipal};
use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::config::{ConfigError, ServiceConfig, TlsConfig};
use crate::pki;

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

/// Internal listener: a client certificate chaining to the internal CA is required; without
/// one the handshake fails.
pub fn internal_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, ConfigError> {
    const KEY: &str = "tls.internal_client_ca";
    let mut roots = RootCertStore::empty();
    for cert in load_certs(KEY, &tls.internal_client_ca)? {
        roots.add(cert).map_err(|_| ConfigError {
            key: KEY.into(),
            reason: "not a usable CA certificate".into(),
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto_provider())
        .build()
        .map_err(|_| ConfigError {
            key: KEY.into(),
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
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|_| ConfigError {
            key: "tls.key".into(),
            reason: "does not match tls.cert".into(),
        })?;
    Ok(finish(config))
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
            Ok(name) => self
                .services
                .get(&name)
                .map_or(PeerIdentity::Unrecognised, |principal| {
                    PeerIdentity::Service(principal.clone())
                }),
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
