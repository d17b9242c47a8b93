//! Personal data with the KEK in OpenBao Transit: round trip, associated data binding, rotation
//! with `keys rotate-kek`, and failing closed (503) while the KMS hangs, then recovering.

use std::process::Command;

use serde_json::{Value, json};
use test_support::{Database, OpenBao, TRANSIT_KEY, TestServer};

use crate::identity::{Api, PASSWORD, code};

fn sqlite(db: &std::path::Path, sql: &str) -> String {
    let output = Command::new("sqlite3").arg(db).arg(sql).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A rewrite of an existing profile that keeps its national id.
fn rewrite(name: &str) -> Value {
    let mut body = profile(name);
    body.as_object_mut().unwrap().remove("national_id");
    body
}

fn profile(name: &str) -> Value {
    json!({
        "legal_name": name,
        "date_of_birth": "1979-03-02",
        "national_id": "KM 12 34 56 K",
        "address": {"line1": "1 Vault Street", "city": "Keyton", "postal_code": "KT1 1KK", "country": "NL"}
    })
}

#[tokio::test]
async fn openbao_transit_wraps_data_keys_rotates_and_fails_closed() {
    let bao = OpenBao::start().await;
    let token_var = format!("STRONGROOM_TEST_BAO_TOKEN_{}", std::process::id());
    // The token reaches the server as an `env:` reference, as an operator would configure it.
    let server = TestServer::start(
        crate::binary(),
        Database::Sqlite,
        &[
            ("STRONGROOM__KEYS__PROVIDER", "openbao"),
            ("STRONGROOM__KEYS__ADDR", &bao.addr),
            ("STRONGROOM__KEYS__TOKEN", &format!("env:{token_var}")),
            ("STRONGROOM__KEYS__TRANSIT_KEY", TRANSIT_KEY),
            (&token_var, &bao.token),
        ],
    );
    let api = Api::new(&server);
    let db = server.path("data/strongroom.db");
    let mut tokens = Vec::new();
    for email in ["ada@example.com", "ben@example.com", "cy@example.com"] {
        assert_eq!(api.register(email, PASSWORD).await.status(), 201);
        tokens.push(api.login(email).await.0);
    }
    let put = |token: &str, body: Value| {
        api.client
            .put(format!("{}/v1/me/profile", api.base))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    for (token, name) in tokens.iter().zip(["Ada Vault", "Ben Vault", "Cy Vault"]) {
        assert_eq!(put(token, profile(name)).await.unwrap().status(), 200);
    }
    assert_eq!(
        sqlite(
            &db,
            "SELECT DISTINCT kek_id || ' ' || kek_version FROM profiles"
        ),
        "openbao:strongroom 1"
    );
    assert!(
        sqlite(
            &db,
            "SELECT CAST(dek_wrapped AS TEXT) FROM profiles LIMIT 1"
        )
        .starts_with("vault:v1:")
    );
    let read: Value = api
        .get("/v1/me/profile", &tokens[0])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["legal_name"], "Ada Vault");

    // A wrapped key moved to another row is refused by Transit (associated data).
    let ids: Vec<String> = sqlite(&db, "SELECT user_id FROM profiles ORDER BY user_id")
        .lines()
        .map(str::to_owned)
        .collect();
    let victim = tokens
        .iter()
        .find(|t| crate::identity::decode_part(t, 1)["sub"] == ids[2].as_str())
        .unwrap()
        .clone();
    sqlite(
        &db,
        &format!(
            "UPDATE profiles SET dek_wrapped = (SELECT dek_wrapped FROM profiles WHERE user_id = '{}') WHERE user_id = '{}'",
            ids[0], ids[2]
        ),
    );
    assert_eq!(
        code(api.get("/v1/me/profile", &victim).await).await,
        (500, "data_integrity_error".into())
    );

    // Rotation: Transit gets a new key version; every (intact) data key is rewrapped to it.
    let rotated = Command::new(&server.binary)
        .args(["keys", "rotate-kek", "--config"])
        .arg(server.config_path())
        .env("STRONGROOM__KEYS__PROVIDER", "openbao")
        .env("STRONGROOM__KEYS__ADDR", &bao.addr)
        .env("STRONGROOM__KEYS__TOKEN", &bao.token)
        .env("STRONGROOM__KEYS__TRANSIT_KEY", TRANSIT_KEY)
        .output()
        .unwrap();
    assert_eq!(
        rotated.status.code(),
        Some(1),
        "the tampered key must be reported: {rotated:?}"
    );
    assert!(
        String::from_utf8_lossy(&rotated.stdout).contains("rewrapped 2 data keys"),
        "{rotated:?}"
    );
    assert_eq!(
        sqlite(
            &db,
            &format!(
                "SELECT kek_version FROM profiles WHERE user_id = '{}'",
                ids[0]
            )
        ),
        "2"
    );
    let read: Value = api
        .get("/v1/me/profile", &tokens[0])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["legal_name"], "Ada Vault");

    // The KMS hangs: personal data fails closed with 503 and Retry-After; the rest of the API
    // keeps working; when the KMS returns, so does the data, without a restart.
    let uncached = tokens
        .iter()
        .find(|t| crate::identity::decode_part(t, 1)["sub"] == ids[1].as_str())
        .unwrap()
        .clone();
    bao.pause();
    let write = put(&tokens[0], rewrite("Ada Renamed")).await.unwrap();
    assert_eq!(write.status(), 503);
    assert!(write.headers().get("retry-after").is_some());
    assert_eq!(code(write).await.1, "key_service_unavailable");
    assert_eq!(
        code(api.get("/v1/me/profile", &uncached).await).await,
        (503, "key_service_unavailable".into())
    );
    assert_eq!(api.get("/v1/me", &tokens[0]).await.status(), 200);
    assert_eq!(
        api.register("dee@example.com", PASSWORD).await.status(),
        201
    );
    bao.resume();
    assert_eq!(
        put(&tokens[0], rewrite("Ada Renamed"))
            .await
            .unwrap()
            .status(),
        200
    );
    let read: Value = api
        .get("/v1/me/profile", &uncached)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["legal_name"], "Ben Vault");
}

#[tokio::test]
async fn a_pkcs11_hsm_wraps_data_keys_inside_the_token_and_rotates() {
    // SoftHSM2 stands in for a network HSM: the KEK is generated in the token, never leaves it.
    let hsm = test_support::SoftHsm::start();
    let env = hsm.env(&format!("STRONGROOM_TEST_HSM_PIN_{}", std::process::id()));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = TestServer::start(crate::binary(), Database::Sqlite, &env_refs);
    let rotate = || {
        let output = Command::new(&server.binary)
            .args(["keys", "rotate-kek", "--config"])
            .arg(server.config_path())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    // The operator creates the first KEK version in the token.
    assert!(rotate().contains("KEK version 1 is current"));

    let api = Api::new(&server);
    let db = server.path("data/strongroom.db");
    let mut tokens = Vec::new();
    for (email, name) in [
        ("hal@example.com", "Hal Token"),
        ("ivy@example.com", "Ivy Token"),
    ] {
        assert_eq!(api.register(email, PASSWORD).await.status(), 201);
        let (token, _) = api.login(email).await;
        let stored = api
            .client
            .put(format!("{}/v1/me/profile", api.base))
            .bearer_auth(&token)
            .json(&profile(name))
            .send()
            .await
            .unwrap();
        assert_eq!(stored.status(), 200);
        tokens.push(token);
    }
    assert_eq!(
        sqlite(
            &db,
            "SELECT DISTINCT kek_id || ' ' || kek_version FROM profiles"
        ),
        "pkcs11:strongroom-kek 1"
    );
    let read: Value = api
        .get("/v1/me/profile", &tokens[0])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["legal_name"], "Hal Token");

    assert!(rotate().contains("rewrapped 2 data keys"));
    assert_eq!(
        sqlite(&db, "SELECT DISTINCT kek_version FROM profiles"),
        "2"
    );
    let read: Value = api
        .get("/v1/me/profile", &tokens[1])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["legal_name"], "Ivy Token");

    // A wrapped key moved to the other row fails the token's GCM check.
    let ids: Vec<String> = sqlite(&db, "SELECT user_id FROM profiles ORDER BY user_id")
        .lines()
        .map(str::to_owned)
        .collect();
    sqlite(
        &db,
        &format!(
            "UPDATE profiles SET dek_wrapped = (SELECT dek_wrapped FROM profiles WHERE user_id = '{}') WHERE user_id = '{}'",
            ids[0], ids[1]
        ),
    );
    let victim = tokens
        .iter()
        .find(|t| crate::identity::decode_part(t, 1)["sub"] == ids[1].as_str())
        .unwrap();
    assert_eq!(
        code(api.get("/v1/me/profile", victim).await).await,
        (500, "data_integrity_error".into())
    );
    drop(hsm);
}
