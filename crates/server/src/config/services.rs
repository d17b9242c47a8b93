//! `[services.NAME]`: the internal services, each a certificate subject and its scopes —
//! only scopes an endpoint checks (`app::SCOPES`), so a misspelt one stops the server.

use std::collections::BTreeMap;

use super::raw::RawService;
use super::{ConfigError, ServiceConfig, config_error};
use crate::limits::{SCOPES_PER_SERVICE_MAX, SERVICES_LEN_MAX};

/// The configured services, validated.
pub(super) fn parse(
    raw_services: BTreeMap<String, RawService>,
) -> Result<Vec<ServiceConfig>, ConfigError> {
    if raw_services.len() > SERVICES_LEN_MAX {
        return Err(config_error(
            "services",
            format!("at most {SERVICES_LEN_MAX} services"),
        ));
    }
    let mut services = Vec::with_capacity(raw_services.len());
    for (name, service) in raw_services {
        let key = format!("services.{name}");
        let principal = service_principal(&service.subject)
            .ok_or_else(|| {
                config_error(
                    format!("{key}.subject"),
                    format!(
                        "must be a service name like \"payments\" (1-64 of a-z, 0-9, - and _) \
                         or {}NAME",
                        crate::pki::SERVICE_URI_PREFIX
                    ),
                )
            })?
            .to_owned();
        if service.scopes.len() > SCOPES_PER_SERVICE_MAX {
            return Err(config_error(format!("{key}.scopes"), "too many scopes"));
        }
        if let Some(unknown) = service
            .scopes
            .iter()
            .find(|scope| !app::SCOPES.contains(&scope.as_str()))
        {
            return Err(config_error(
                format!("{key}.scopes"),
                format!(
                    "unknown scope {unknown:?}; the scopes are {}",
                    app::SCOPES.join(", ")
                ),
            ));
        }
        if services
            .iter()
            .any(|other: &ServiceConfig| other.principal == principal)
        {
            return Err(config_error(
                format!("{key}.subject"),
                "names the same principal as another service",
            ));
        }
        services.push(ServiceConfig {
            name,
            principal,
            scopes: service.scopes,
        });
    }
    Ok(services)
}

/// The principal named by `[services.NAME] subject`: a bare service name (`payments`) or its
/// URI (`spiffe://strongroom/service/payments`).
pub(super) fn service_principal(subject: &str) -> Option<&str> {
    if crate::pki::is_valid_service_name(subject) {
        Some(subject)
    } else {
        crate::pki::service_name_from_uri(subject)
    }
}
