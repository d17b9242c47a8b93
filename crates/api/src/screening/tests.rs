//! Unit tests of `screening`: where in a request a threat is found.

use app::protection::screening::Threat;
use serde_json::json;

use super::{screen_head, screen_json};

#[test]
fn json_strings_and_member_names_are_screened_at_any_depth() {
    assert_eq!(
        screen_json(&json!({"memo": "rent", "items": [{"note": "<script>x</script>"}]})),
        Some(Threat::Xss)
    );
    assert_eq!(
        screen_json(&json!({"' OR '1'='1": 1})),
        Some(Threat::SqlInjection)
    );
    assert_eq!(
        screen_json(&json!({"display_name": "O'Brien", "amount": 100, "tags": ["a", "b"]})),
        None
    );
    // A generated password may contain anything; it is never interpreted.
    assert_eq!(
        screen_json(&json!({"email": "a@example.com", "password": "Tr0ub4dor'# k9'/*Lm"})),
        None
    );
}

#[test]
fn paths_queries_and_headers_are_decoded_and_screened() {
    let request = |uri: &str, header: (&str, &str)| {
        axum::extract::Request::builder()
            .uri(uri)
            .header(header.0, header.1)
            .header("authorization", "Bearer ' OR '1'='1")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let found = |uri, header| screen_head(&request(uri, header));
    assert_eq!(
        found("/v1/accounts/..%2f..%2fetc", ("x-a", "b")),
        Some((Threat::PathTraversal, "path"))
    );
    assert_eq!(
        found("/v1/accounts?limit=1%20UNION%20SELECT%20x", ("x-a", "b")),
        Some((Threat::SqlInjection, "query"))
    );
    assert_eq!(
        found("/v1/me", ("referer", "javascript:alert(1)")),
        Some((Threat::Xss, "header"))
    );
    assert_eq!(
        found("/v1/me?x=a%0d%0aSet-Cookie:%20y", ("x-a", "b")).map(|f| f.0),
        Some(Threat::HeaderInjection)
    );
    // Credentials are opaque: not screened.
    assert_eq!(found("/v1/me", ("user-agent", "Firefox")), None);
}
