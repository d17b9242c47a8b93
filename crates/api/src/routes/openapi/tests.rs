//! The OpenAPI document states what the server enforces: every operation documents its
//! failures, the bounds match the named limits, and creating calls link to their readers.

use serde_json::Value;

use super::document;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn served() -> Value {
    let today = time_of_test();
    document(
        &["EUR".to_owned(), "USD".to_owned()],
        &app::vault::profile::date_of_birth_pattern(today),
    )
}

fn time_of_test() -> time::Date {
    time::Date::from_calendar_date(2026, time::Month::November, 23).unwrap()
}

/// `(METHOD path, operation)` of every operation in the document.
fn operations(document: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((
                    format!("{} {path}", method.to_uppercase()),
                    operation.clone(),
                ));
            }
        }
    }
    found
}

#[test]
fn every_operation_documents_its_error_responses() {
    // Clients and the fuzzer learn the failure answers from the document; an operation without
    // any 4xx or 5xx documented is a contract with a hole in it.
    let document = served();
    let undocumented: Vec<String> = operations(&document)
        .into_iter()
        .filter(|(_, operation)| {
            !operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .any(|status| status.starts_with('4') || status.starts_with('5'))
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        undocumented.is_empty(),
        "no error responses: {undocumented:?}"
    );
    assert!(operations(&document).len() > 30);
}

#[test]
fn problem_responses_are_problem_documents() {
    // Every documented failure has the one problem+json shape.
    for (name, operation) in operations(&served()) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{name} {status}"
                );
            }
        }
    }
}

#[test]
fn request_bodies_refuse_unknown_members() {
    // The server answers 400 unknown_field to any member it does not know; the schema says so.
    let document = served();
    for (name, operation) in operations(&document) {
        let Some(reference) = operation["requestBody"]["content"]["application/json"]["schema"]
            .get("$ref")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let schema = &document["components"]["schemas"][reference.rsplit('/').next().unwrap()];
        assert_eq!(schema["additionalProperties"], false, "{name}: {reference}");
    }
}

fn property(document: &Value, schema: &str, property: &str) -> Value {
    document["components"]["schemas"][schema]["properties"][property].clone()
}

#[test]
fn bounds_and_enums_come_from_the_rules_the_server_applies() {
    // A limit changed in the code must change in the contract.
    let document = served();
    let amount = property(&document, "NewTransfer", "amount");
    assert_eq!(amount["minimum"], 1);
    assert_eq!(amount["maximum"], ledger::limits::AMOUNT_MINOR_MAX);
    assert_eq!(
        property(&document, "NewTransfer", "memo")["maxLength"],
        app::limits::MEMO_CHARS_MAX
    );
    assert_eq!(
        property(&document, "UpdateMe", "display_name")["maxLength"],
        app::limits::DISPLAY_NAME_CHARS_MAX
    );
    assert_eq!(
        property(&document, "ProfileInput", "date_of_birth")["pattern"],
        app::vault::profile::date_of_birth_pattern(time_of_test())
    );
    let country = property(&document, "Address", "country");
    let countries: Vec<&str> = country["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap())
        .collect();
    let expected: Vec<&str> = app::vault::profile::COUNTRIES.split_whitespace().collect();
    assert_eq!(countries, expected);
    for schema in ["NewAccount", "NewTransfer"] {
        assert_eq!(
            property(&document, schema, "currency")["enum"],
            serde_json::json!(["EUR", "USD"]),
            "{schema}"
        );
    }
    let transfer = &document["paths"]["/v1/transfers"]["post"];
    let key = transfer["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "Idempotency-Key")
        .unwrap();
    assert_eq!(key["required"], true);
    assert_eq!(
        key["schema"]["maxLength"],
        app::limits::IDEMPOTENCY_KEY_CHARS_MAX
    );
    let page = &document["paths"]["/v1/accounts"]["get"]["parameters"];
    let limit = page
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["maximum"], app::limits::PAGE_LEN_MAX);
}

#[test]
fn creating_calls_link_to_the_calls_that_use_their_ids() {
    // Clients (and the stateful fuzzer) follow these from a new resource to its readers.
    let document = served();
    let operation_ids: Vec<String> = operations(&document)
        .iter()
        .filter_map(|(_, operation)| operation["operationId"].as_str().map(str::to_owned))
        .collect();
    for (path, method, status, target) in [
        ("/v1/accounts", "post", "201", "get_account"),
        ("/v1/accounts", "post", "201", "account_entries"),
        ("/v1/transfers", "post", "201", "get_transfer"),
        ("/v1/auth/register", "post", "201", "login"),
    ] {
        let link = &document["paths"][path][method]["responses"][status]["links"][target];
        assert_eq!(link["operationId"], target, "{method} {path} → {target}");
        assert!(operation_ids.iter().any(|id| id == target), "{target}");
    }
}

#[test]
fn every_rate_limited_operation_documents_429_and_the_headers() {
    let document = served();
    for (name, operation) in operations(&document) {
        let limited = name.contains(" /v1/");
        let responses = &operation["responses"];
        if !limited {
            continue;
        }
        assert!(
            responses.get("429").is_some(),
            "{name} does not document 429"
        );
        for (status, response) in responses.as_object().unwrap() {
            if status.starts_with('2') {
                assert!(
                    response["headers"].get("RateLimit-Remaining").is_some(),
                    "{name} {status} lacks RateLimit-Remaining"
                );
            }
        }
    }
}
