//! Unit tests of body classification: each bad body gets its documented code.

use super::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "fields are only deserialized")]
struct Transfer {
    amount: i64,
    memo: Option<String>,
    nested: Option<Inner>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "fields are only deserialized")]
struct Inner {
    city: String,
}

fn check(body: &str, expected_code: &str, expected_detail_part: &str) {
    let error = parse_json::<Transfer>(body.as_bytes()).unwrap_err();
    assert_eq!(error.code(), expected_code, "{body}");
    let problem = error.to_problem();
    let text = serde_json::to_string(&problem).unwrap();
    assert!(text.contains(expected_detail_part), "{body}: {text}");
    assert!(
        !text.contains("Transfer") && !text.contains("i64"),
        "leaks type names: {text}"
    );
}

#[test]
fn bad_bodies_get_specific_codes() {
    check(
        r#"{"amount": 1, "is_admin": true}"#,
        "unknown_field",
        "is_admin",
    );
    check(
        r#"{"amount": 1, "nested": {"city": "x", "zip": 1}}"#,
        "unknown_field",
        "nested.zip",
    );
    check(
        r#"{"amount": 1, "amount": 2}"#,
        "invalid_request",
        "Duplicate key `amount`",
    );
    check(r#"{"amount": "1"}"#, "invalid_request", "`amount`");
    check(r#"{"amount": 1.5}"#, "invalid_request", "`amount`");
    check(
        r#"{"memo": "x"}"#,
        "invalid_request",
        "Missing required field `amount`",
    );
    check(r#"{"amount": 1"#, "invalid_request", "not valid JSON");
    check(
        r#"{"amount": 1} {}"#,
        "invalid_request",
        "after the JSON value",
    );
    check(r#"[1]"#, "invalid_request", "wrong shape");
    check("\"\\ud800\"", "invalid_request", "");
}

#[test]
fn unknown_fields_are_named_by_their_full_path() {
    let field = |body: &str| match parse_json::<Transfer>(body.as_bytes()).unwrap_err() {
        ApiError::UnknownField { field } => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(r#"{"amount": 1, "roles": []}"#), "roles");
    assert_eq!(
        field(r#"{"amount": 1, "nested": {"city": "x", "zip": 1}}"#),
        "nested.zip"
    );
}

#[test]
fn good_bodies_parse() {
    let transfer = parse_json::<Transfer>(br#"{"amount": 5, "nested": {"city": "Oslo"}}"#).unwrap();
    assert_eq!(transfer.amount, 5);
}

#[test]
fn depth_scan_counts_nesting_but_not_brackets_in_strings() {
    let deep = "[".repeat(JSON_DEPTH_MAX + 1);
    assert!(json_depth_exceeds(deep.as_bytes(), JSON_DEPTH_MAX));
    let at_limit = format!(
        "{}{}",
        "[".repeat(JSON_DEPTH_MAX),
        "]".repeat(JSON_DEPTH_MAX)
    );
    assert!(!json_depth_exceeds(at_limit.as_bytes(), JSON_DEPTH_MAX));
    let in_string = format!("{{\"a\": \"{}\\\"\"}}", "[".repeat(1000));
    assert!(!json_depth_exceeds(in_string.as_bytes(), JSON_DEPTH_MAX));
    // A million brackets must be rejected quickly, without recursion.
    let hostile = "[".repeat(1_000_000);
    assert_eq!(
        parse_json::<Transfer>(hostile.as_bytes())
            .unwrap_err()
            .code(),
        "invalid_request"
    );
}

#[test]
fn content_type_must_be_json() {
    let check =
        |value: &str| is_json_content_type(Some(&http::HeaderValue::from_str(value).unwrap()));
    assert!(check("application/json"));
    assert!(check("Application/JSON; charset=utf-8"));
    assert!(!check("text/plain"));
    assert!(!check("application/json; charset=latin1"));
    assert!(!check("application/jsonx"));
    assert!(!is_json_content_type(None));
}
