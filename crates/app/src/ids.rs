//! Typed identifiers for the values a request acts as: a user and a session. Built only from
//! a verified access token (or the store), so a session id can never be passed where a user
//! id is expected. Opaque strings inside (UUIDv7 as issued); no `Deref`, no blanket `From`.

use std::fmt;

use crate::limits::ID_CHARS_MAX;

/// True for text that could be one of our ids: 1–64 visible ASCII characters.
fn plausible(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= ID_CHARS_MAX && raw.bytes().all(|b| b.is_ascii_graphic())
}

/// The id of a user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Option<UserId> {
        plausible(raw).then(|| UserId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of a session (one sign-in and its refresh family).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn parse(raw: &str) -> Option<SessionId> {
        plausible(raw).then(|| SessionId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_visible_ascii() {
        assert!(UserId::parse("0190a0a0-0000-7000-8000-000000000001").is_some());
        for bad in ["", "a b", &"x".repeat(65), "é"] {
            assert!(UserId::parse(bad).is_none(), "{bad}");
            assert!(SessionId::parse(bad).is_none(), "{bad}");
        }
    }
}
