//! rustls configurations for the public and internal listeners, and the mapping from a
//! verified client certificate to a service principal.

use std::collections::BTreeSet;
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

/// Configured service principals, looked up by certificate subject.
#[derive(Debug, Default)]
pub struct ServiceDirectory {
    services: Vec<(String, Arc<ServicePrincipal>)>,
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
                (service.subject.clone(), Arc::new(principal))
            })
            .collect();
        ServiceDirectory { services }
    }

    /// Maps the leaf certificate (already verified by rustls) to a principal by its common
    /// name or one of its URI SANs.
    pub fn identify(&self, leaf: Option<&CertificateDer<'_>>) -> PeerIdentity {
        let Some(leaf) = leaf else {
            return PeerIdentity::Unrecognised;
        };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
            return PeerIdentity::Unrecognised;
        };
        let mut subjects: Vec<String> = cert
            .subject()
            .iter_common_name()
            .filter_map(|name| name.as_str().ok().map(str::to_owned))
            .collect();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                if let x509_parser::extensions::GeneralName::URI(uri) = name {
                    subjects.push((*uri).to_owned());
                }
            }
        }
        self.services
            .iter()
            .find(|(subject, _)| subjects.iter().any(|candidate| candidate == subject))
            .map_or(PeerIdentity::Unrecognised, |(_, principal)| {
                PeerIdentity::Service(principal.clone())
            })
    }
}
