//! Personal data through real HTTPS: envelope encryption (nothing readable in the database
//! files), AAD binding, step-up to reveal, crypto-shredding, KEK rotation while serving, the
//! blind index, validation.

use std::process::Command;

use serde_json::{Value, json};

use crate::identity::{Api, PASSWORD, code};
use crate::sqlite_server;

const LEGAL_NAME: &str = "Valentina Quartermaine";
const NATIONAL_ID: &str = "QX 98 76 54 Z";
const CITY: &str = "Lower Wallop";

fn profile(national_id: &str) -> Value {
    json!({
        "legal_name": LEGAL_NAME,
        "date_of_birth": "1985-07-14",
        "national_id": national_id,
        "address": {"line1": "17 Cherry Tree Lane", "city": CITY, "postal_code": "SW1A 1AA", "country": "GB"}
    })
}

async fn put(api: &Api, token: &str, body: &Value) -> reqwest::Response {
    api.client
        .put(format!("{}/v1/me/profile", api.base))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn sqlite(db: &std::path::Path, sql: &str) -> String {
    let output = Command::new("sqlite3").arg(db).arg(sql).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn database_bytes(server: &test_support::TestServer) -> Vec<u8> {
    let mut bytes = Vec::new();
    for file in ["data/strongroom.db", "data/strongroom.db-wal"] {
        if let Ok(content) = std::fs::read(server.path(file)) {
            bytes.extend(content);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn profiles_are_encrypted_at_rest_and_bound_to_their_row() {
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("vera@example.com", PASSWORD).await.status(),
        201
    );
    assert_eq!(
        api.register("walt@example.com", PASSWORD).await.status(),
        201
    );
    let (vera, _) = api.login("vera@example.com").await;
    let (walt, _) = api.login("walt@example.com").await;
    assert_eq!(
        code(api.get("/v1/me/profile", &vera).await).await,
        (404, "not_found".into())
    );

    let stored = put(&api, &vera, &profile(NATIONAL_ID)).await;
    assert_eq!(stored.status(), 200);
    let body: Value = stored.json().await.unwrap();
    assert_eq!(body["national_id_masked"], "*********54 Z");
    assert!(body.get("national_id").is_none());
    assert_eq!(
        put(&api, &walt, &profile("AB 12 34 56 C")).await.status(),
        200
    );

    let read: Value = api.get("/v1/me/profile", &vera).await.json().await.unwrap();
    assert_eq!(read["legal_name"], LEGAL_NAME);
    assert_eq!(read["date_of_birth"], "1985-07-14");
    assert_eq!(read["address"]["city"], CITY);
    assert!(read.get("national_id").is_none());

    // Neither the database file nor its WAL holds any plaintext, nor do the logs.
    let bytes = database_bytes(&server);
    for secret in [LEGAL_NAME, NATIONAL_ID, CITY, "Cherry Tree", "1985-07-14"] {
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "{secret} found in the database files"
        );
        assert!(!server.log().contains(secret), "{secret} found in the logs");
    }

    // Revealing the national id needs a fresh MFA.
    let reveal = api.get("/v1/me/profile?reveal=national_id", &vera).await;
    assert_eq!(code(reveal).await, (401, "step_up_required".into()));
    assert_eq!(
        code(api.get("/v1/me/profile?reveal=everything", &vera).await)
            .await
            .0,
        400
    );

    // An intruder with write access to the file moves Walt's ciphertext into Vera's row.
    let db = server.path("data/strongroom.db");
    let vera_id: String = api
        .get("/v1/me", &vera)
        .await
        .json::<Value>()
        .await
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let walt_id: String = api
        .get("/v1/me", &walt)
        .await
        .json::<Value>()
        .await
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sqlite(
        &db,
        &format!(
            "UPDATE profiles SET legal_name = (SELECT legal_name FROM profiles WHERE user_id = '{walt_id}') WHERE user_id = '{vera_id}'"
        ),
    );
    let moved = api.get("/v1/me/profile", &vera).await;
    let (status, problem) = code(moved).await;
    assert_eq!((status, problem.as_str()), (500, "data_integrity_error"));
    let events: Value = api
        .get("/v1/me/security-events", &vera)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["kind"] == "data_integrity_error")
    );
    // A flipped bit in a wrapped key is caught the same way.
    sqlite(
        &db,
        &format!("UPDATE profiles SET dek_wrapped = zeroblob(60) WHERE user_id = '{walt_id}'"),
    );
    assert_eq!(
        code(api.get("/v1/me/profile", &walt).await).await.1,
        "data_integrity_error"
    );
}

#[tokio::test]
async fn shredding_rotation_duplicates_and_validation() {
    let server = sqlite_server(&[(
        "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
        "[\"ledger:read\", \"profiles:search\"]",
    )]);
    let api = Api::new(&server);
    let db = server.path("data/strongroom.db");
    let mut tokens = Vec::new();
    for (email, national_id) in [
        ("xena@example.com", "ZZ 11 22 33 A"),
        ("yuri@example.com", "zz112233a"),
        ("zoe@example.com", "YY 99 88 77 B"),
    ] {
        assert_eq!(api.register(email, PASSWORD).await.status(), 201);
        let (token, _) = api.login(email).await;
        assert_eq!(put(&api, &token, &profile(national_id)).await.status(), 200);
        tokens.push(token);
    }

    // The blind index finds the same identity typed two ways, without decrypting anything.
    let kyc = server.service_client("payments");
    let search = |national_id: &'static str| {
        kyc.post(format!(
            "{}/internal/v1/profiles/duplicates",
            server.internal_url
        ))
        .json(&json!({"national_id": national_id}))
        .send()
    };
    let found: Value = search("ZZ112233A").await.unwrap().json().await.unwrap();
    assert_eq!(found["user_ids"].as_array().unwrap().len(), 2, "{found}");
    let alone: Value = search("YY 99 88 77 B").await.unwrap().json().await.unwrap();
    assert_eq!(alone["user_ids"].as_array().unwrap().len(), 1);
    let none: Value = search("NOBODY").await.unwrap().json().await.unwrap();
    assert_eq!(none["user_ids"], json!([]));

    // KEK rotation while the server keeps serving: everything stays readable and no data key
    // remains wrapped by the old version; new writes use the new version.
    assert_eq!(
        sqlite(&db, "SELECT DISTINCT kek_version FROM profiles"),
        "1"
    );
    let ciphertext_before = sqlite(&db, "SELECT hex(legal_name) FROM profiles ORDER BY user_id");
    let rotated = Command::new(&server.binary)
        .args(["keys", "rotate-kek", "--config"])
        .arg(server.config_path())
        .output()
        .unwrap();
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("rewrapped 3 data keys"));
    assert_eq!(
        sqlite(&db, "SELECT DISTINCT kek_version FROM profiles"),
        "2"
    );
    assert_eq!(
        sqlite(&db, "SELECT hex(legal_name) FROM profiles ORDER BY user_id"),
        ciphertext_before,
        "field ciphertext was rewritten"
    );
    for token in &tokens {
        let read: Value = api.get("/v1/me/profile", token).await.json().await.unwrap();
        assert_eq!(read["legal_name"], LEGAL_NAME);
    }
    // A rewrite that keeps the national id (omitted: no step-up) gets a fresh data key,
    // wrapped by the new version.
    let mut rewrite = profile("YY 99 88 77 B");
    rewrite.as_object_mut().unwrap().remove("national_id");
    assert_eq!(put(&api, &tokens[2], &rewrite).await.status(), 200);
    assert_eq!(
        sqlite(&db, "SELECT DISTINCT kek_version FROM profiles"),
        "2"
    );

    // Crypto-shredding: the wrapped data key leaves the files; reads answer 404.
    let wrapped_hex = sqlite(
        &db,
        "SELECT hex(dek_wrapped) FROM profiles ORDER BY user_id LIMIT 1",
    );
    let first_user = sqlite(&db, "SELECT user_id FROM profiles ORDER BY user_id LIMIT 1");
    let owner = tokens
        .iter()
        .find(|token| {
            let claims = crate::identity::decode_part(token, 1);
            claims["sub"] == first_user.as_str()
        })
        .unwrap()
        .clone();
    let wrapped = (0..wrapped_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&wrapped_hex[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    let delete = |token: String| {
        api.client
            .delete(format!("{}/v1/me/profile", api.base))
            .bearer_auth(token)
            .send()
    };
    // Shredding is irreversible: a password-level token cannot do it (and a user without a
    // second factor is told to enrol one, not sent to a step-up they cannot pass).
    assert_eq!(
        code(delete(owner.clone()).await.unwrap()).await,
        (403, "mfa_enrollment_required".into())
    );
    let (secret, _) = crate::mfa::enrol_totp(&api, &owner).await;
    let owner = crate::mfa::step_up_at(&api, &owner, &secret, crate::mfa::now() + 30).await;
    assert_eq!(delete(owner.clone()).await.unwrap().status(), 204);
    assert_eq!(
        code(api.get("/v1/me/profile", &owner).await).await,
        (404, "not_found".into())
    );
    assert!(
        !contains(&database_bytes(&server), &wrapped),
        "the shredded data key is still in the files"
    );

    // Validation names each bad field and stores nothing.
    let mut bad = profile("A1");
    bad["date_of_birth"] = json!("1985-02-30");
    bad["address"]["country"] = json!("XX");
    bad["legal_name"] = json!("x".repeat(201));
    let response = put(&api, &tokens[2], &bad).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "validation_failed");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["legal_name", "date_of_birth", "address.country"]);
    let mut extra = profile("A1");
    extra["address"]["planet"] = json!("Mars");
    assert_eq!(
        code(put(&api, &tokens[2], &extra).await).await,
        (400, "unknown_field".into())
    );
}

#[tokio::test]
async fn revealing_the_national_id_takes_a_fresh_second_factor_and_is_recorded() {
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    let (pwd_token, secret, _) = crate::mfa::enrolled_user(&api, "xavier@example.com").await;
    assert_eq!(
        put(&api, &pwd_token, &profile(NATIONAL_ID)).await.status(),
        200
    );
    let refused = api
        .get("/v1/me/profile?reveal=national_id", &pwd_token)
        .await;
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\", max_age=300"
    );
    assert_eq!(code(refused).await, (401, "step_up_required".into()));
    let code_now = crate::mfa::code_at(&secret, crate::mfa::now() + 30);
    let stepped = api
        .client
        .post(format!("{}/v1/auth/step-up/totp", api.base))
        .bearer_auth(&pwd_token)
        .json(&json!({"code": code_now}))
        .send()
        .await
        .unwrap();
    assert_eq!(stepped.status(), 200);
    let mfa_token = stepped.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let revealed: Value = api
        .get("/v1/me/profile?reveal=national_id", &mfa_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(revealed["national_id"], NATIONAL_ID);
    assert_eq!(revealed["national_id_masked"], "*********54 Z");
    let events: Value = api
        .get("/v1/me/security-events", &mfa_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["kind"] == "profile_revealed")
    );
}
