//! Token-signing keys change under running servers: `keys rotate-signing` makes two instances
//! of one deployment sign with the new key (and publish both) within seconds, without a
//! restart; `keys retire-signing` refuses while the old key's tokens may be valid, and with
//! `--force` (a compromised key) makes both instances refuse its tokens at once on reload,
//! while a refresh gives the user a new token; the audit key rotates the same way; and token
//! introspection (RFC 7662) sees a revocation made on another instance.

use std::time::Duration;

use serde_json::Value;
use test_support::{Database, PgCluster, TestServer};

use crate::admin::cli;
use crate::identity::{Api, PASSWORD, decode_part};

fn kid(token: &str) -> String {
    decode_part(token, 0)["kid"].as_str().unwrap().to_owned()
}

async fn jwks_kids(server: &TestServer) -> Vec<String> {
    let jwks: Value = server
        .client()
        .get(format!("{}/.well-known/jwks.json", server.public_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits (at most 30 s; the servers re-read every 10 s) until `check` holds.
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..120 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("not within 30 seconds: {what}");
}

#[tokio::test]
async fn signing_keys_rotate_and_retire_on_running_instances() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("keys");
    let a = TestServer::start(crate::binary(), Database::Postgres(url.clone()), &[]);
    let b = a.replica(Database::Postgres(url), &[]);
    let (api_a, api_b) = (Api::new(&a), Api::new(&b));
    assert_eq!(
        api_a.register("kai@example.com", PASSWORD).await.status(),
        201
    );
    let (old_token, cookie) = api_a.login("kai@example.com").await;
    let old_kid = kid(&old_token);
    assert_eq!(jwks_kids(&b).await, vec![old_kid.clone()]);

    // One rotation, the same file on both instances (as an operator distributes it).
    let rotated = cli(&a, &["keys", "rotate-signing"]);
    assert!(rotated.status.success(), "{rotated:?}");
    std::fs::copy(
        a.path("keys/signing.ed25519"),
        b.path("keys/signing.ed25519"),
    )
    .unwrap();
    for server in [&a, &b] {
        eventually("both keys in the JWKS", || async {
            jwks_kids(server).await.len() == 2
        })
        .await;
    }
    let (new_a, _) = api_a.login("kai@example.com").await;
    let (new_b, _) = api_b.login("kai@example.com").await;
    let new_kid = kid(&new_a);
    assert_ne!(new_kid, old_kid);
    assert_eq!(kid(&new_b), new_kid);
    // Old and new tokens verify on both instances.
    for token in [&old_token, &new_a, &new_b] {
        assert_eq!(api_a.get("/v1/me", token).await.status(), 200);
        assert_eq!(api_b.get("/v1/me", token).await.status(), 200);
    }

    // Retiring: never the signing key; not while old tokens may live; --force for a leak.
    let active = cli(&a, &["keys", "retire-signing", "--kid", &new_kid]);
    assert_eq!(active.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&active.stderr).contains("signs new tokens"),
        "{active:?}"
    );
    let early = cli(&a, &["keys", "retire-signing", "--kid", &old_kid]);
    assert_eq!(early.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("may be valid"),
        "{early:?}"
    );
    let unknown = cli(&a, &["keys", "retire-signing", "--kid", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    let forced = cli(
        &a,
        &["keys", "retire-signing", "--kid", &old_kid, "--force"],
    );
    assert!(forced.status.success(), "{forced:?}");
    std::fs::copy(
        a.path("keys/signing.ed25519"),
        b.path("keys/signing.ed25519"),
    )
    .unwrap();
    // The old token was verified (and cached) on both; it is refused on both after the reload.
    for api in [&api_a, &api_b] {
        eventually("the retired key's token refused", || async {
            api.get("/v1/me", &old_token).await.status() == 401
        })
        .await;
        assert_eq!(api.get("/v1/me", &new_a).await.status(), 200);
    }
    assert_eq!(jwks_kids(&a).await, vec![new_kid.clone()]);
    // The user stays signed in: the refresh cookie is opaque and yields a new-key token.
    let refreshed = api_a
        .client
        .post(format!("{}/v1/auth/refresh", api_a.base))
        .header("cookie", format!("__Host-strongroom_rt={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    let body: Value = refreshed.json().await.unwrap();
    assert_eq!(kid(body["access_token"].as_str().unwrap()), new_kid);
}

#[tokio::test]
async fn the_audit_key_rotates_under_a_running_server_and_old_checkpoints_still_verify() {
    let server = crate::sqlite_server(&[("STRONGROOM__AUDIT__CHECKPOINT_SECS", "1")]);
    let api = Api::new(&server);
    let db = server.path("data/strongroom.db");
    let key_ids = move || {
        let out = std::process::Command::new("sqlite3")
            .arg(&db)
            .arg("SELECT COUNT(DISTINCT key_id) FROM audit_checkpoints")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    // Something to sign: checkpoints are written when a head moved.
    assert_eq!(
        api.register("ada@example.com", PASSWORD).await.status(),
        201
    );
    eventually("a checkpoint by the first key", || async {
        key_ids() == "1"
    })
    .await;
    let rotated = cli(&server, &["keys", "rotate-audit"]);
    assert!(rotated.status.success(), "{rotated:?}");
    assert_eq!(api.register("bo@example.com", PASSWORD).await.status(), 201);
    eventually("a checkpoint by the new key", || async { key_ids() == "2" }).await;
    // Both keys' checkpoints verify: the old one through its kept public half.
    let verified = cli(&server, &["audit", "verify"]);
    assert!(verified.status.success(), "{verified:?}");
    let ledger = cli(&server, &["ledger", "verify"]);
    assert!(ledger.status.success(), "{ledger:?}");
    // Without it, the old checkpoints name a key nobody vouches for.
    std::fs::remove_file(server.path("keys/audit.ed25519.retired")).unwrap();
    let refused = cli(&server, &["audit", "verify"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("nor one it retired"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn introspection_reports_a_token_inactive_within_a_second_of_its_revocation_elsewhere() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("introspect");
    let scopes = [(
        "STRONGROOM__SERVICES__PAYMENTS__SCOPES",
        "[\"ledger:read\", \"tokens:introspect\"]",
    )];
    let a = TestServer::start(crate::binary(), Database::Postgres(url.clone()), &scopes);
    let b = a.replica(Database::Postgres(url.clone()), &scopes);
    let api_a = Api::new(&a);
    assert_eq!(
        api_a.register("ivo@example.com", PASSWORD).await.status(),
        201
    );
    let (token, _) = api_a.login("ivo@example.com").await;
    let introspect = |server: &TestServer, token: &str| {
        let request = server
            .service_client("payments")
            .post(format!("{}/internal/v1/introspect", server.internal_url))
            .json(&serde_json::json!({ "token": token }));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let active = introspect(&b, &token).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["acr"], "pwd");
    assert_eq!(active["roles"], serde_json::json!(["customer"]));
    // Roles are read now, not from the token: a grant shows at once.
    let granted = std::process::Command::new(crate::binary())
        .args([
            "user",
            "grant-role",
            "--email",
            "ivo@example.com",
            "--role",
            "support",
        ])
        .arg("--config")
        .arg(a.config_path())
        .env("STRONGROOM__DATABASE__URL", &url)
        .output()
        .unwrap();
    assert!(granted.status.success(), "{granted:?}");
    let fresh = introspect(&b, &token).await;
    assert_eq!(
        fresh["roles"],
        serde_json::json!(["customer", "support"]),
        "{fresh}"
    );
    let me: Value = api_a.get("/v1/me", &token).await.json().await.unwrap();
    assert_eq!(active["sub"], me["user_id"]);
    // Nonsense is simply inactive, and says nothing else.
    assert_eq!(
        introspect(&b, "not.a.token").await,
        serde_json::json!({"active": false})
    );
    // The user signs out on instance A; B says so within a second.
    let logout = api_a
        .client
        .post(format!("{}/v1/auth/logout", api_a.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let revoked_at = std::time::Instant::now();
    eventually("inactive on the other instance", || async {
        introspect(&b, &token).await == serde_json::json!({"active": false})
    })
    .await;
    // Revocation reaches other instances in well under a second (PostgreSQL NOTIFY); the
    // bound leaves room for a loaded test machine.
    println!(
        "inactive on the other instance after {:?}",
        revoked_at.elapsed()
    );
    assert!(
        revoked_at.elapsed() < Duration::from_secs(2),
        "{:?}",
        revoked_at.elapsed()
    );
}
