//! Figment's errors as one line naming the key, never the value (it may be a secret).

use super::{ConfigError, config_error};

/// One line naming the key, without echoing values (which may be secrets).
pub(super) fn describe_figment_error(error: &figment::Error) -> ConfigError {
    use figment::error::Kind;
    let Some(error) = error.clone().into_iter().next() else {
        return config_error("configuration", "unreadable");
    };
    let path = error.path.join(".");
    match &error.kind {
        Kind::UnknownField(field, _) => {
            config_error(join_key(&error.path, field), "unknown configuration key")
        }
        Kind::MissingField(field) => {
            config_error(join_key(&error.path, field), "missing required key")
        }
        Kind::InvalidType(actual, expected) => {
            config_error(path, format!("expected {expected}, found {actual}"))
        }
        Kind::Message(message) if message.contains("TOML") || message.contains("parse") => {
            config_error("configuration file", "is not valid TOML")
        }
        _ => config_error(
            if path.is_empty() {
                "configuration".into()
            } else {
                path
            },
            "invalid value",
        ),
    }
}

/// Figment sometimes includes the offending field in the path and sometimes not.
fn join_key(path: &[String], field: &str) -> String {
    match path.last() {
        Some(last) if last == field => path.join("."),
        Some(_) => format!("{}.{field}", path.join(".")),
        None => field.to_owned(),
    }
}
