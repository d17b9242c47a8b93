//! Request screening (`protection.screening`): a small rule set for the injection patterns
//! that have no business in a request to a money API — SQL injection (tautologies, `UNION
//! SELECT`, stacked statements, comment terminators, timing functions, catalog names), XSS
//! (script-capable tags, event-handler attributes, script URLs), path traversal (`../`
//! segments, NUL bytes, well-known system files) and header injection (CR/LF in paths and
//! query strings, CR/LF followed by a response header name in values). It is a tripwire in
//! front of code that is already safe (parameterized SQL, JSON-only answers, no file paths),
//! so the rules favour precision: names like "O'Brien", amounts, free-text memos with
//! punctuation and newlines pass. No libinjection port in the Rust ecosystem is maintained
//! well enough to put on every request; these rules are tested in `screening/tests.rs`.

use std::sync::LazyLock;

use regex::RegexSet;

/// What screening does with a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScreeningMode {
    /// Nothing is checked.
    Off,
    /// A match is logged, counted and recorded as a security event; the request goes on.
    #[default]
    Monitor,
    /// A match is also refused: 403 `request_rejected`.
    Block,
}

impl ScreeningMode {
    pub fn parse(text: &str) -> Option<ScreeningMode> {
        match text {
            "off" => Some(ScreeningMode::Off),
            "monitor" => Some(ScreeningMode::Monitor),
            "block" => Some(ScreeningMode::Block),
            _ => None,
        }
    }
}

/// The family of a matched rule, as logged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threat {
    SqlInjection,
    Xss,
    PathTraversal,
    HeaderInjection,
}

impl Threat {
    pub fn name(self) -> &'static str {
        match self {
            Threat::SqlInjection => "sql_injection",
            Threat::Xss => "xss",
            Threat::PathTraversal => "path_traversal",
            Threat::HeaderInjection => "header_injection",
        }
    }
}

/// Rules for any text (values, headers, paths, query strings).
const RULES: [(&str, Threat); 17] = [
    // ' OR '1'='1   ' or 1=1   ' AND 'a' LIKE 'a
    (
        r"(?i)'\s*(?:or|and)\s+(?:'[^']*'|\d+|\w+)\s*(?:=|<>|!=|<|>|\blike\b)\s*(?:'|\d|\w)",
        Threat::SqlInjection,
    ),
    (r"(?i)\bor\s+1\s*=\s*1\b", Threat::SqlInjection),
    (
        r"(?i)\bunion\b(?:\s|/\*.*?\*/)+(?:all\s+|distinct\s+)?select\b",
        Threat::SqlInjection,
    ),
    (
        r"(?i);\s*(?:(?:drop|truncate|alter)\s+(?:table|database|schema|user|index)\b|delete\s+from\b|insert\s+into\b|update\s+\w+\s+set\b|exec(?:ute)?\s*\()",
        Threat::SqlInjection,
    ),
    // admin'--   x' #   x'/*  (a comment that ends the statement after a quote)
    (r"'\s*(?:--(?:\s|$)|#\s*$|/\*)", Threat::SqlInjection),
    (
        r"(?i)\b(?:pg_sleep\s*\(|benchmark\s*\(\s*\d|waitfor\s+delay\s+'|sleep\s*\(\s*\d+\s*\)|dbms_pipe\.receive_message)",
        Threat::SqlInjection,
    ),
    (
        r"(?i)\b(?:information_schema|sqlite_master|pg_catalog|xp_cmdshell)\b",
        Threat::SqlInjection,
    ),
    (
        r"(?i)</?(?:script|iframe|object|embed|svg|math|style|link|meta|base|form|frameset|applet)\b",
        Threat::Xss,
    ),
    (r"(?i)<[a-z!/?][^>]*\bon[a-z]{3,}\s*=", Threat::Xss),
    (r"(?i)\b(?:javascript|vbscript|livescript):\S", Threat::Xss),
    (r"(?i)\bdata:\s*text/html", Threat::Xss),
    (r"(?:^|[/\\])\.\.(?:[/\\]|$)", Threat::PathTraversal),
    (r"\x00", Threat::PathTraversal),
    (
        r"(?i)(?:/etc/(?:passwd|shadow)|/proc/self/|\bboot\.ini\b|\bwin\.ini\b|c:\\windows\\)",
        Threat::PathTraversal,
    ),
    // A CRLF followed by a response header: text with line breaks and "Label:" lines passes.
    (
        r"(?i)\r\n[ \t]*(?:set-cookie|content-type|content-length|refresh)[ \t]*:",
        Threat::HeaderInjection,
    ),
    // Encoded CR/LF that survived one decoding (double-encoded smuggling).
    (r"(?i)%0[ad]", Threat::HeaderInjection),
    (r"(?i)%2e%2e(?:%2f|%5c|/|\\)", Threat::PathTraversal),
];

/// Word boundaries are ASCII (`(?-u:\b)`), so non-ASCII text (names, memos) keeps the fast
/// engine.
static RULE_SET: LazyLock<Option<RegexSet>> = LazyLock::new(|| {
    RegexSet::new(
        RULES
            .iter()
            .map(|(pattern, _)| pattern.replace(r"\b", r"(?-u:\b)")),
    )
    .ok()
});

/// JSON members whose values are credentials: never screened (a generated password may hold
/// any characters, and it is checked against a hash, never interpreted).
pub const CREDENTIAL_FIELDS: [&str; 6] = [
    "password",
    "current_password",
    "new_password",
    "code",
    "recovery_code",
    "mfa_ticket",
];

/// The first threat `text` matches, if any.
pub fn screen_text(text: &str) -> Option<Threat> {
    let set = RULE_SET.as_ref()?;
    let index = set.matches(text).iter().next()?;
    RULES.get(index).map(|(_, threat)| *threat)
}

/// A path or query string (already percent-decoded once): the rules above, and any CR or LF
/// (no legitimate URL carries one).
pub fn screen_url_part(text: &str) -> Option<Threat> {
    if text.contains(['\r', '\n']) {
        return Some(Threat::HeaderInjection);
    }
    screen_text(text)
}

/// Whether the rule set compiled (it is a constant; a test holds it to that).
pub fn rules_ready() -> bool {
    RULE_SET.is_some()
}

#[cfg(test)]
mod tests;
