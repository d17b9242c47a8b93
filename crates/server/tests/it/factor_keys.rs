//! Second-factor secrets under the configured KEK provider (local file, OpenBao Transit,
//! SoftHSM2): TOTP and recovery codes keep working through `keys rotate-kek` and `keys
//! retire-kek`; secrets sealed the old way (keys derived from the local KEK file) are moved
//! under the provider at start-up, after which the file's first version roots nothing.

use std::io::Write;
use std::process::{Command, Output};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use test_support::{Database, OpenBao, TRANSIT_KEY, TestServer};

use crate::identity::{Api, PASSWORD};
use crate::mfa::{code_at, enrol_totp, now};

fn sqlite(db: &std::path::Path, sql: &str) -> String {
    let output = Command::new("sqlite3").arg(db).arg(sql).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn keys(server: &TestServer, env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(&server.binary)
        .arg("keys")
        .args(args)
        .arg("--config")
        .arg(server.config_path())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap()
}

fn succeeded(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn profile() -> Value {
    json!({
        "legal_name": "Fay Factor",
        "date_of_birth": "1984-05-06",
        "national_id": "FK 55 66 77 F",
        "address": {"line1": "2 Key Lane", "city": "Lockton", "postal_code": "LK1 1LK", "country": "IE"}
    })
}

/// A signed-in user with a profile and TOTP; (token, TOTP secret, recovery codes, time of
/// the confirmation code).
async fn user_with_factors(api: &Api, email: &str) -> (String, String, Vec<String>, u64) {
    assert_eq!(api.register(email, PASSWORD).await.status(), 201);
    let (token, _) = api.login(email).await;
    let stored = api
        .client
        .put(format!("{}/v1/me/profile", api.base))
        .bearer_auth(&token)
        .json(&profile())
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    let (secret, recovery) = enrol_totp(api, &token).await;
    (token, secret, recovery, now())
}

async fn ticket(api: &Api, email: &str) -> String {
    let challenge: Value = api
        .login_from(email, PASSWORD, "192.0.2.90")
        .await
        .json()
        .await
        .unwrap();
    challenge["mfa_ticket"].as_str().unwrap().to_owned()
}

/// TOTP login, recovery-code login and the profile all open: after rotation and retirement
/// nothing needs the retired version.
async fn everything_opens(api: &Api, email: &str, secret: &str, recovery: &str, totp_at: u64) {
    let totp = api
        .client
        .post(format!("{}/v1/auth/mfa/totp", api.base))
        .json(&json!({"mfa_ticket": ticket(api, email).await, "code": code_at(secret, totp_at)}))
        .send()
        .await
        .unwrap();
    assert_eq!(totp.status(), 200);
    let token = totp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let recovered = api
        .client
        .post(format!("{}/v1/auth/mfa/recovery", api.base))
        .json(&json!({"mfa_ticket": ticket(api, email).await, "recovery_code": recovery}))
        .send()
        .await
        .unwrap();
    assert_eq!(recovered.status(), 200);
    let read: Value = api
        .get("/v1/me/profile", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["legal_name"], "Fay Factor");
}

#[tokio::test]
async fn local_kek_versions_retire_once_nothing_uses_them() {
    let server = crate::sqlite_server(&[]);
    let api = Api::new(&server);
    let db = server.path("data/strongroom.db");
    let (_, secret, recovery, enrolled_at) = user_with_factors(&api, "fay@example.com").await;
    // The TOTP secret is sealed under the user's factor key, wrapped by the provider.
    assert_eq!(
        sqlite(&db, "SELECT key_scheme FROM totp_credentials"),
        "envelope-v1"
    );
    assert_eq!(
        sqlite(&db, "SELECT DISTINCT key_scheme FROM recovery_codes"),
        "envelope-v1"
    );
    assert_eq!(
        sqlite(
            &db,
            "SELECT kek_id || ' ' || kek_version FROM data_keys WHERE id LIKE 'factors:%'"
        ),
        "local 1"
    );

    // An operator appends a version by hand: version 1 still wraps two data keys.
    let kek_path = server.path("keys/kek.bin");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&kek_path)
        .unwrap()
        .write_all(&[0x5a; 32])
        .unwrap();
    let refused = keys(&server, &[], &["retire-kek", "--version", "1"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("2 data keys are still wrapped"),
        "{refused:?}"
    );
    let current = keys(&server, &[], &["retire-kek", "--version", "2"]);
    assert_eq!(current.status.code(), Some(1), "{current:?}");
    let unknown = keys(&server, &[], &["retire-kek", "--version", "9"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");

    assert!(succeeded(&keys(&server, &[], &["rotate-kek"])).contains("rewrapped 2 data keys"));
    succeeded(&keys(&server, &[], &["retire-kek", "--version", "1"]));
    succeeded(&keys(&server, &[], &["retire-kek", "--version", "2"]));
    let bytes = std::fs::read(&kek_path).unwrap();
    assert_eq!(bytes.len(), 96);
    assert!(
        bytes[..64].iter().all(|byte| *byte == 0),
        "retired versions are erased"
    );
    everything_opens(
        &api,
        "fay@example.com",
        &secret,
        &recovery[0],
        enrolled_at + 30,
    )
    .await;
}

#[tokio::test]
async fn second_factors_live_under_openbao_transit_through_rotation_and_retirement() {
    let bao = OpenBao::start().await;
    let env: Vec<(String, String)> = vec![
        ("STRONGROOM__KEYS__PROVIDER".into(), "openbao".into()),
        ("STRONGROOM__KEYS__ADDR".into(), bao.addr.clone()),
        ("STRONGROOM__KEYS__TOKEN".into(), bao.token.clone()),
        ("STRONGROOM__KEYS__TRANSIT_KEY".into(), TRANSIT_KEY.into()),
    ];
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = TestServer::start(crate::binary(), Database::Sqlite, &env_refs);
    let api = Api::new(&server);
    let db = server.path("data/strongroom.db");
    let (_, secret, recovery, enrolled_at) = user_with_factors(&api, "gus@example.com").await;
    assert!(
        sqlite(&db, "SELECT CAST(dek_wrapped AS TEXT) FROM data_keys").starts_with("vault:v1:")
    );

    assert!(succeeded(&keys(&server, &env, &["rotate-kek"])).contains("rewrapped 2 data keys"));
    assert!(
        sqlite(&db, "SELECT CAST(dek_wrapped AS TEXT) FROM data_keys").starts_with("vault:v2:")
    );
    succeeded(&keys(&server, &env, &["retire-kek", "--version", "1"]));
    // The retired version left Transit's key ring (trimmed), not only its decryption range.
    let key: Value = reqwest::Client::new()
        .get(format!("{}/v1/transit/keys/{TRANSIT_KEY}", bao.addr))
        .header("X-Vault-Token", &bao.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(key["data"]["min_decryption_version"], 2, "{key}");
    assert!(
        key["data"]["keys"].get("1").is_none(),
        "version 1 is still in the key ring: {key}"
    );
    everything_opens(
        &api,
        "gus@example.com",
        &secret,
        &recovery[0],
        enrolled_at + 30,
    )
    .await;
}

#[tokio::test]
async fn second_factors_live_in_a_pkcs11_token_through_rotation_and_retirement() {
    let hsm = test_support::SoftHsm::start();
    let env = hsm.env(&format!("STRONGROOM_TEST_HSM_PIN_F{}", std::process::id()));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = TestServer::start(crate::binary(), Database::Sqlite, &env_refs);
    assert!(succeeded(&keys(&server, &env, &["rotate-kek"])).contains("KEK version 1 is current"));
    let api = Api::new(&server);
    let db = server.path("data/strongroom.db");
    let (_, secret, recovery, enrolled_at) = user_with_factors(&api, "hana@example.com").await;
    assert_eq!(
        sqlite(&db, "SELECT kek_id || ' ' || kek_version FROM data_keys"),
        "pkcs11:strongroom-kek 1"
    );
    assert!(succeeded(&keys(&server, &env, &["rotate-kek"])).contains("rewrapped 2 data keys"));
    succeeded(&keys(&server, &env, &["retire-kek", "--version", "1"]));
    let again = keys(&server, &env, &["retire-kek", "--version", "1"]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    everything_opens(
        &api,
        "hana@example.com",
        &secret,
        &recovery[0],
        enrolled_at + 30,
    )
    .await;
    drop(hsm);
}

#[tokio::test]
async fn secrets_sealed_under_the_local_key_file_move_under_the_provider_at_start() {
    // A store from before per-user factor keys: its TOTP secret and recovery codes are under
    // keys derived from the local KEK file's first version.
    let server = crate::sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("ida@example.com", PASSWORD).await.status(),
        201
    );
    let db = server.path("data/strongroom.db");
    let user = sqlite(&db, "SELECT id FROM users WHERE email = 'ida@example.com'");
    let kek = crypto::LocalKek::from_file(&server.path("keys/kek.bin")).unwrap();
    let raw_secret = identity::totp::new_secret().unwrap();
    let (secret, _) = identity::totp::enrolment(&raw_secret, "ida@example.com").unwrap();
    let sealed = kek
        .sealing_key("strongroom/totp-secret/v1")
        .unwrap()
        .seal(&format!("totp_credentials:{user}"), &raw_secret)
        .unwrap();
    let legacy_mac = kek.mac_key("strongroom/recovery-code/v1");
    let codes = ["abcd-efgh-jkmn-pqrs", "stuv-wxyz-2345-6789"];
    let macs: Vec<String> = codes
        .iter()
        .map(|code| {
            let normalised =
                identity::totp::normalise_recovery_code(&SecretString::from(*code)).unwrap();
            hex(&legacy_mac.mac(normalised.as_bytes()))
        })
        .collect();
    let dir = server.stop();
    sqlite(
        &dir.path().join("data/strongroom.db"),
        &format!(
            "INSERT INTO totp_credentials (user_id, secret_sealed, confirmed_at, created_at, key_scheme) \
             VALUES ('{user}', X'{}', 1, 1, 'local-v1'); \
             INSERT INTO recovery_codes (code_mac, user_id, created_at, key_scheme) VALUES \
             (X'{}', '{user}', 1, 'local-v1'), (X'{}', '{user}', 1, 'local-v1');",
            hex(&sealed),
            macs[0],
            macs[1]
        ),
    );

    let server = TestServer::serve_in(crate::binary(), dir, Database::Sqlite, &[]);
    let api = Api::new(&server);
    let db = server.path("data/strongroom.db");
    assert_eq!(
        sqlite(&db, "SELECT key_scheme FROM totp_credentials"),
        "envelope-v1"
    );
    assert_eq!(
        sqlite(&db, "SELECT id FROM data_keys ORDER BY id"),
        format!("factors:{user}\nlegacy:recovery-code/v1")
    );
    let totp = api
        .client
        .post(format!("{}/v1/auth/mfa/totp", api.base))
        .json(&json!({"mfa_ticket": ticket(&api, "ida@example.com").await,
            "code": code_at(secret.expose_secret(), now())}))
        .send()
        .await
        .unwrap();
    assert_eq!(totp.status(), 200);
    let recovered = api
        .client
        .post(format!("{}/v1/auth/mfa/recovery", api.base))
        .json(&json!({"mfa_ticket": ticket(&api, "ida@example.com").await, "recovery_code": codes[0]}))
        .send()
        .await
        .unwrap();
    assert_eq!(recovered.status(), 200);

    // Rotate, retire version 1 (which the old keys were derived from), restart: the second
    // legacy code still works, so nothing needs the file's first version any more.
    assert!(succeeded(&keys(&server, &[], &["rotate-kek"])).contains("rewrapped 2 data keys"));
    succeeded(&keys(&server, &[], &["retire-kek", "--version", "1"]));
    let server = TestServer::serve_in(crate::binary(), server.stop(), Database::Sqlite, &[]);
    let api = Api::new(&server);
    let recovered = api
        .client
        .post(format!("{}/v1/auth/mfa/recovery", api.base))
        .json(&json!({"mfa_ticket": ticket(&api, "ida@example.com").await, "recovery_code": codes[1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(recovered.status(), 200);
    // With no legacy code left, the moved legacy key is dropped at the next start.
    let server = TestServer::serve_in(crate::binary(), server.stop(), Database::Sqlite, &[]);
    assert_eq!(
        sqlite(
            &server.path("data/strongroom.db"),
            "SELECT id FROM data_keys"
        ),
        format!("factors:{user}")
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}
