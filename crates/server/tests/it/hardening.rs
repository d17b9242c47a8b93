//! The identity hardening review, attack by attack, through real HTTPS: planting a factor with
//! a password-level token, enrolment with a stale sign-in, a refresh replay from another
//! client inside the grace, burning the owner's second-factor budget, concurrent guesses on one
//! MFA ticket, irreversible profile changes without step-up, factor management, strict
//! WebAuthn bodies, pagination cursors, and timing that reveals nothing.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::Database;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::CreationChallengeResponse;

use crate::identity::{Api, PASSWORD, code, proxied_server, refresh_cookie};
use crate::mfa::{code_at, enrol_totp, enrolled_user, now, step_up_at};
use crate::passkeys::{assert_with, ceremony, origin, post_json};
use crate::sqlite_server;

const STEP_UP_CHALLENGE: &str =
    "Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\", max_age=300";

async fn enroll_totp(api: &Api, token: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = api
        .client
        .post(format!("{}/v1/mfa/totp/enroll", api.base))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Registers a passkey for the session of `token`; the credential id.
async fn add_passkey(api: &Api, token: &str, authenticator: &mut SoftPasskey) -> String {
    let (id, options) = ceremony(
        post_json(
            api,
            "/v1/mfa/webauthn/register/options",
            Some(token),
            json!({}),
        )
        .await,
    )
    .await;
    let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let attestation =
        serde_json::to_value(authenticator.do_registration(origin(), options).unwrap()).unwrap();
    let registered = post_json(
        api,
        "/v1/mfa/webauthn/register",
        Some(token),
        json!({"ceremony_id": id, "credential": attestation, "name": "Laptop"}),
    )
    .await;
    assert_eq!(registered.status(), 201);
    registered.json::<Value>().await.unwrap()["credential_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn event_kinds(api: &Api, token: &str) -> Vec<String> {
    let events: Value = api
        .get("/v1/me/security-events?limit=200", token)
        .await
        .json()
        .await
        .unwrap();
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_stolen_password_token_cannot_plant_a_factor_next_to_a_passkey() {
    // The review's bypass: a passkey-only user's password-level token enrolled the attacker's
    // TOTP, then stepped up with it. Now any existing factor makes enrolment a step-up action.
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    let mut authenticator = SoftPasskey::new(true);
    assert_eq!(
        api.register("pia@example.com", PASSWORD).await.status(),
        201
    );
    // The owner signed in with the password (acr=pwd) and added a passkey in that session;
    // its access token is what a thief steals (XSS, a log, a shoulder).
    let (stolen, _) = api.login("pia@example.com").await;
    add_passkey(&api, &stolen, &mut authenticator).await;
    let refused = enroll_totp(&api, &stolen, None).await;
    assert_eq!(refused.headers()["www-authenticate"], STEP_UP_CHALLENGE);
    assert_eq!(code(refused).await, (401, "step_up_required".into()));
    let refused = post_json(
        &api,
        "/v1/mfa/webauthn/register/options",
        Some(&stolen),
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(code(refused).await, (401, "step_up_required".into()));
    // The password does not stand in for a second factor either.
    let refused = enroll_totp(&api, &stolen, Some(json!({"password": PASSWORD}))).await;
    assert_eq!(code(refused).await, (401, "step_up_required".into()));
    assert_eq!(
        api.get("/v1/me", &stolen)
            .await
            .json::<Value>()
            .await
            .unwrap()["mfa"]["totp"],
        false
    );
}

#[tokio::test]
async fn the_first_factor_needs_a_fresh_sign_in_or_the_password() {
    // A stale password-level token (older than the step-up window) cannot enrol the first
    // factor unless the password is typed again; a wrong one is invalid_credentials.
    let server = sqlite_server(&[("STRONGROOM__AUTH__STEP_UP_MAX_AGE_SECS", "2")]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("quin@example.com", PASSWORD).await.status(),
        201
    );
    let (token, _) = api.login("quin@example.com").await;
    tokio::time::sleep(Duration::from_millis(3_100)).await;

    let stale = enroll_totp(&api, &token, None).await;
    assert_eq!(
        stale.headers()["www-authenticate"],
        "Bearer error=\"insufficient_user_authentication\", acr_values=\"mfa\", max_age=2"
    );
    assert_eq!(code(stale).await, (401, "step_up_required".into()));
    let stale = post_json(
        &api,
        "/v1/mfa/webauthn/register/options",
        Some(&token),
        json!({}),
    )
    .await;
    assert_eq!(code(stale).await, (401, "step_up_required".into()));
    let wrong = enroll_totp(
        &api,
        &token,
        Some(json!({"password": "not the password at all"})),
    )
    .await;
    assert_eq!(code(wrong).await, (401, "invalid_credentials".into()));
    let unknown = enroll_totp(&api, &token, Some(json!({"password": PASSWORD, "otp": 1}))).await;
    assert_eq!(code(unknown).await, (400, "unknown_field".into()));
    let fresh = enroll_totp(&api, &token, Some(json!({"password": PASSWORD}))).await;
    assert_eq!(fresh.status(), 200);
    assert!(fresh.json::<Value>().await.unwrap()["secret"].is_string());
    let options = post_json(
        &api,
        "/v1/mfa/webauthn/register/options",
        Some(&token),
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(options.status(), 200);
}

#[tokio::test]
async fn factor_changes_revoke_other_sessions_and_factors_are_managed_with_step_up() {
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("rey@example.com", PASSWORD).await.status(),
        201
    );
    let (other, _) = api.login("rey@example.com").await;
    let (token, _) = api.login("rey@example.com").await;
    let (secret, old_codes) = enrol_totp(&api, &token).await;
    let enrolled_at = now();
    // Enrolling killed the other session; this one lives.
    assert_eq!(
        code(api.get("/v1/me", &other).await).await,
        (401, "invalid_token".into())
    );
    assert_eq!(api.get("/v1/me", &token).await.status(), 200);
    assert!(
        event_kinds(&api, &token)
            .await
            .contains(&"mfa_totp_enabled".to_owned())
    );

    let factors: Value = api
        .get("/v1/me/factors", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(factors["totp"], true);
    assert_eq!(factors["passkeys"], json!([]));
    assert_eq!(factors["recovery_codes_remaining"], 10);

    // Every change needs a step-up.
    let regenerate = |token: String| {
        api.client
            .post(format!("{}/v1/me/recovery-codes", api.base))
            .bearer_auth(token)
            .send()
    };
    let delete = |token: String, path: &'static str| {
        api.client
            .delete(format!("{}{path}", api.base))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        code(regenerate(token.clone()).await.unwrap()).await,
        (401, "step_up_required".into())
    );
    assert_eq!(
        code(delete(token.clone(), "/v1/me/factors/totp").await.unwrap()).await,
        (401, "step_up_required".into())
    );
    let mfa_token = step_up_at(&api, &token, &secret, enrolled_at + 30).await;

    // Regenerated codes replace the old ones.
    let fresh: Value = regenerate(mfa_token.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_codes: Vec<String> = fresh["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new_codes.len(), 10);
    assert_eq!(
        code(recover(&api, "rey@example.com", &old_codes[0]).await).await,
        (401, "invalid_code".into())
    );
    let recovered = recover(&api, "rey@example.com", &new_codes[0]).await;
    assert_eq!(recovered.status(), 200);
    let recovered_token = recovered.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        event_kinds(&api, &mfa_token)
            .await
            .contains(&"recovery_codes_regenerated".to_owned())
    );

    // Removing: unknown passkeys are 404; TOTP goes, with its recovery codes; other sessions die.
    assert_eq!(
        code(
            delete(
                mfa_token.clone(),
                "/v1/me/factors/passkeys/bm90LWEtcGFzc2tleQ"
            )
            .await
            .unwrap()
        )
        .await,
        (404, "not_found".into())
    );
    assert_eq!(
        delete(mfa_token.clone(), "/v1/me/factors/totp")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        code(api.get("/v1/me", &recovered_token).await).await,
        (401, "invalid_token".into())
    );
    let factors: Value = api
        .get("/v1/me/factors", &mfa_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(factors["totp"], false);
    assert_eq!(factors["recovery_codes_remaining"], 0);
    assert_eq!(
        code(
            delete(mfa_token.clone(), "/v1/me/factors/totp")
                .await
                .unwrap()
        )
        .await,
        (404, "not_found".into())
    );
    assert!(
        event_kinds(&api, &mfa_token)
            .await
            .contains(&"mfa_totp_removed".to_owned())
    );
    // Without a factor the password alone signs in again.
    let plain: Value = api
        .login_from("rey@example.com", PASSWORD, "192.0.2.72")
        .await
        .json()
        .await
        .unwrap();
    assert!(plain["access_token"].is_string(), "{plain}");
}

/// Signs in with the password and a recovery code.
async fn recover(api: &Api, email: &str, recovery: &str) -> reqwest::Response {
    let challenge: Value = api
        .login_from(email, PASSWORD, "192.0.2.71")
        .await
        .json()
        .await
        .unwrap();
    api.client
        .post(format!("{}/v1/auth/mfa/recovery", api.base))
        .json(&json!({"mfa_ticket": challenge["mfa_ticket"], "recovery_code": recovery}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn passkeys_are_listed_named_and_removed_with_step_up() {
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    let mut authenticator = SoftPasskey::new(true);
    assert_eq!(
        api.register("sol@example.com", PASSWORD).await.status(),
        201
    );
    let (token, _) = api.login("sol@example.com").await;
    let credential_id = add_passkey(&api, &token, &mut authenticator).await;
    let factors: Value = api
        .get("/v1/me/factors", &token)
        .await
        .json()
        .await
        .unwrap();
    let passkeys = factors["passkeys"].as_array().unwrap();
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0]["id"], credential_id.as_str());
    assert_eq!(passkeys[0]["name"], "Laptop");
    assert!(passkeys[0]["created_at"].is_string());
    assert_eq!(passkeys[0]["last_used_at"], Value::Null);

    let path = format!("{}/v1/me/factors/passkeys/{credential_id}", api.base);
    let refused = api
        .client
        .delete(&path)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(code(refused).await, (401, "step_up_required".into()));
    let (id, options) = ceremony(
        post_json(
            &api,
            "/v1/auth/step-up/webauthn/options",
            Some(&token),
            json!({}),
        )
        .await,
    )
    .await;
    let assertion = assert_with(&mut authenticator, options);
    let stepped = post_json(
        &api,
        "/v1/auth/step-up/webauthn",
        Some(&token),
        json!({"ceremony_id": id, "credential": assertion}),
    )
    .await;
    assert_eq!(stepped.status(), 200);
    let mfa_token = stepped.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let factors: Value = api
        .get("/v1/me/factors", &mfa_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(factors["passkeys"][0]["last_used_at"].is_string());
    let removed = api
        .client
        .delete(&path)
        .bearer_auth(&mfa_token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let me: Value = api.get("/v1/me", &mfa_token).await.json().await.unwrap();
    assert_eq!(me["mfa"]["webauthn"], false);
    assert!(
        event_kinds(&api, &mfa_token)
            .await
            .contains(&"mfa_passkey_removed".to_owned())
    );
}

#[tokio::test]
async fn a_refresh_replayed_from_another_client_inside_the_grace_is_reuse() {
    // Only the client that raced itself gets the grace answer; a thief replaying the old
    // cookie from another network — even with the same browser — kills the family at once.
    let server = proxied_server(Database::Sqlite);
    let api = Api::new(&server);
    assert_eq!(
        api.register("tao@example.com", PASSWORD).await.status(),
        201
    );
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
    let refresh = |cookie: String, ip: &'static str| {
        api.client
            .post(format!("{}/v1/auth/refresh", api.base))
            .header("cookie", format!("__Host-strongroom_rt={cookie}"))
            .header("user-agent", FIREFOX)
            .header("x-forwarded-for", ip)
            .send()
    };
    let login = api
        .client
        .post(format!("{}/v1/auth/login", api.base))
        .header("user-agent", FIREFOX)
        .header("x-forwarded-for", "192.0.2.10")
        .json(&json!({"email": "tao@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = refresh_cookie(&login).unwrap();
    let first = refresh(cookie.clone(), "192.0.2.10").await.unwrap();
    assert_eq!(first.status(), 200);
    let rotated = refresh_cookie(&first).unwrap();
    let token = first.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same client racing itself: the same pair.
    let same = refresh(cookie.clone(), "192.0.2.10").await.unwrap();
    assert_eq!(same.status(), 200);
    assert_eq!(refresh_cookie(&same).unwrap(), rotated);
    // Another network within the grace: reuse; the session dies.
    let thief = refresh(cookie, "203.0.113.66").await.unwrap();
    assert_eq!(code(thief).await, (401, "refresh_token_reused".into()));
    assert_eq!(
        code(api.get("/v1/me", &token).await).await,
        (401, "invalid_token".into())
    );
    assert_eq!(
        code(refresh(rotated, "192.0.2.10").await.unwrap()).await,
        (401, "invalid_refresh_token".into())
    );
}

async fn mfa_login(api: &Api, email: &str, ip: &str, totp: &str) -> reqwest::Response {
    let challenge: Value = api
        .login_from(email, PASSWORD, ip)
        .await
        .json()
        .await
        .unwrap();
    let ticket = challenge["mfa_ticket"].as_str().unwrap().to_owned();
    api.client
        .post(format!("{}/v1/auth/mfa/totp", api.base))
        .header("x-forwarded-for", ip)
        .json(&json!({"mfa_ticket": ticket, "code": totp}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_attacker_with_the_password_cannot_burn_the_owners_second_factor() {
    // Second-factor attempts are budgeted per (user, client): the attacker's network runs
    // dry, the owner's does not.
    let server = proxied_server(Database::Sqlite);
    let api = Api::new(&server);
    let (owner_token, secret, _) = enrolled_user(&api, "uma@example.com").await;
    let enrolled_at = now();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let challenge: Value = api
            .login_from("uma@example.com", PASSWORD, "198.51.100.66")
            .await
            .json()
            .await
            .unwrap();
        let ticket = challenge["mfa_ticket"].as_str().unwrap().to_owned();
        for guess in ["000000", "111111", "222222", "333333", "444444"] {
            let response = api
                .client
                .post(format!("{}/v1/auth/mfa/totp", api.base))
                .header("x-forwarded-for", "198.51.100.66")
                .json(&json!({"mfa_ticket": ticket, "code": guess}))
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // The owner's own network still has its whole budget: a mistyped step-up code is just
    // wrong (not 429), and the right code signs in.
    let mistyped = api
        .client
        .post(format!("{}/v1/auth/step-up/totp", api.base))
        .header("x-forwarded-for", "203.0.113.5")
        .bearer_auth(&owner_token)
        .json(&json!({"code": "999999"}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(mistyped).await, (401, "invalid_code".into()));
    let signed_in = mfa_login(
        &api,
        "uma@example.com",
        "203.0.113.5",
        &code_at(&secret, enrolled_at + 30),
    )
    .await;
    assert_eq!(signed_in.status(), 200);
}

#[tokio::test]
async fn concurrent_guesses_on_one_mfa_ticket_check_at_most_five_codes() {
    // Attempts are claimed atomically before a code is checked: 20 guesses at once, 5 checks.
    let server = proxied_server(Database::Sqlite);
    let api = Api::new(&server);
    let (owner_token, secret, _) = enrolled_user(&api, "vik@example.com").await;
    let challenge: Value = api
        .login_from("vik@example.com", PASSWORD, "198.51.100.77")
        .await
        .json()
        .await
        .unwrap();
    let ticket = challenge["mfa_ticket"].as_str().unwrap().to_owned();
    let guesses = (0..20).map(|i| {
        let client = api.client.clone();
        let url = format!("{}/v1/auth/mfa/totp", api.base);
        let ticket = ticket.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .header("x-forwarded-for", format!("198.51.100.{}", 100 + i))
                .json(&json!({"mfa_ticket": ticket, "code": format!("{:06}", 900_000 + i)}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    });
    for guess in guesses.collect::<Vec<_>>() {
        assert_eq!(guess.await.unwrap(), 401);
    }
    let checked = event_kinds(&api, &owner_token)
        .await
        .iter()
        .filter(|kind| kind.as_str() == "mfa_failed")
        .count();
    assert_eq!(checked, 5, "codes checked on one ticket");
    // The ticket is spent: even the right code is refused now.
    let late = api
        .client
        .post(format!("{}/v1/auth/mfa/totp", api.base))
        .json(&json!({"mfa_ticket": ticket, "code": code_at(&secret, now() + 30)}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(late).await, (401, "invalid_code".into()));
}

#[tokio::test]
async fn irreversible_profile_changes_need_a_step_up() {
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    let (token, secret, _) = enrolled_user(&api, "wen@example.com").await;
    let enrolled_at = now();
    let profile = |national_id: Option<&str>, city: &str| {
        let mut body = json!({
            "legal_name": "Wen Example",
            "date_of_birth": "1990-04-01",
            "address": {"line1": "1 High St", "city": city, "postal_code": "AB1 2CD", "country": "GB"}
        });
        if let Some(national_id) = national_id {
            body["national_id"] = json!(national_id);
        }
        body
    };
    let put = |token: String, body: Value| {
        api.client
            .put(format!("{}/v1/me/profile", api.base))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    // A new profile needs its national id; the first one is set without a step-up.
    let missing = put(token.clone(), profile(None, "Leeds")).await.unwrap();
    assert_eq!(code(missing).await, (422, "validation_failed".into()));
    let first = put(token.clone(), profile(Some("QQ 12 34 56 C"), "Leeds"));
    assert_eq!(first.await.unwrap().status(), 200);
    // A new address without the national id keeps it: no step-up.
    let moved = put(token.clone(), profile(None, "York"));
    assert_eq!(moved.await.unwrap().status(), 200);
    // Sending the national id again needs a step-up whether or not it changed, so the answer
    // never tells a password-level caller whether a guess was right.
    for guess in ["qq123456c", "QQ 12 34 56 C", "ZZ 99 99 99 Z"] {
        let sent = put(token.clone(), profile(Some(guess), "York"))
            .await
            .unwrap();
        assert_eq!(sent.headers()["www-authenticate"], STEP_UP_CHALLENGE);
        assert_eq!(code(sent).await, (401, "step_up_required".into()));
    }
    let deleted = api
        .client
        .delete(format!("{}/v1/me/profile", api.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(code(deleted).await, (401, "step_up_required".into()));
    let read: Value = api
        .get("/v1/me/profile", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["national_id_masked"], "*********56 C");
    assert_eq!(read["address"]["city"], "York");
    let mfa_token = step_up_at(&api, &token, &secret, enrolled_at + 30).await;
    let changed = put(mfa_token.clone(), profile(Some("ZZ 99 99 99 Z"), "York"));
    assert_eq!(changed.await.unwrap().status(), 200);
    let deleted = api
        .client
        .delete(format!("{}/v1/me/profile", api.base))
        .bearer_auth(&mfa_token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}

#[tokio::test]
async fn unknown_fields_inside_webauthn_credentials_are_refused() {
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    let (id, _) =
        ceremony(post_json(&api, "/v1/auth/webauthn/login/options", None, json!({})).await).await;
    let credential = |extra: Value| {
        let mut credential = json!({
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA"},
        });
        for (path, value) in extra.as_object().unwrap() {
            match path.split_once('.') {
                Some((outer, inner)) => {
                    credential[outer][inner] = value.clone();
                }
                None => credential[path] = value.clone(),
            }
        }
        json!({"ceremony_id": id, "credential": credential})
    };
    for (extra, field) in [
        (json!({"isAdmin": true}), "credential.isAdmin"),
        (json!({"response.extra": 1}), "credential.response.extra"),
        (
            json!({"clientExtensionResults": {"evil": 1}}),
            "credential.clientExtensionResults.evil",
        ),
    ] {
        let response = post_json(&api, "/v1/auth/webauthn/login", None, credential(extra)).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "unknown_field");
        assert_eq!(body["errors"][0]["field"], field);
    }
    // Known members pass the check (and then fail verification, as garbage should).
    let response = post_json(
        &api,
        "/v1/auth/webauthn/login",
        None,
        credential(json!({"authenticatorAttachment": "platform", "clientExtensionResults": {}})),
    )
    .await;
    assert_eq!(code(response).await, (401, "invalid_assertion".into()));

    assert_eq!(api.register("xi@example.com", PASSWORD).await.status(), 201);
    let (token, _) = api.login("xi@example.com").await;
    let registration = post_json(
        &api,
        "/v1/mfa/webauthn/register",
        Some(&token),
        json!({"ceremony_id": "x", "credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA", "sneaky": true}}}),
    )
    .await;
    let body: Value = registration.json().await.unwrap();
    assert_eq!(body["code"], "unknown_field");
    assert_eq!(body["errors"][0]["field"], "credential.response.sneaky");
}

#[tokio::test]
async fn accounts_and_sessions_page_with_cursors_that_must_be_yours() {
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("yan@example.com", PASSWORD).await.status(),
        201
    );
    assert_eq!(
        api.register("zed@example.com", PASSWORD).await.status(),
        201
    );
    let (stranger, _) = api.login("zed@example.com").await;
    let stranger_account: Value = api
        .client
        .post(format!("{}/v1/accounts", api.base))
        .bearer_auth(&stranger)
        .json(&json!({"currency": "EUR"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (token, _) = api.login("yan@example.com").await;
    for currency in ["USD", "EUR", "GBP"] {
        let created = api
            .client
            .post(format!("{}/v1/accounts", api.base))
            .bearer_auth(&token)
            .json(&json!({"currency": currency}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let first: Value = api
        .get("/v1/accounts?limit=2", &token)
        .await
        .json()
        .await
        .unwrap();
    let currencies = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|account| account["currency"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(currencies(&first), ["EUR", "GBP"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = api
        .get(&format!("/v1/accounts?limit=2&cursor={cursor}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(currencies(&second), ["USD"]);
    assert_eq!(second["next_cursor"], Value::Null);
    let foreign = stranger_account["id"].as_str().unwrap();
    // An injection in the cursor never reaches the handler: request screening refuses it.
    assert_eq!(
        code(
            api.get("/v1/accounts?cursor=%27%20OR%20%271%27%3D%271", &token)
                .await
        )
        .await,
        (403, "request_rejected".into())
    );
    for query in [
        "cursor=O%27Brien".to_owned(),
        format!("cursor={foreign}"),
        "cursor=".to_owned(),
        "page=2".to_owned(),
    ] {
        assert_eq!(
            code(api.get(&format!("/v1/accounts?{query}"), &token).await).await,
            (400, "invalid_request".into()),
            "{query}"
        );
    }
    assert_eq!(
        code(api.get("/v1/accounts?limit=0", &token).await).await,
        (422, "validation_failed".into())
    );

    // Sessions: three of them, newest first, two pages.
    api.login("yan@example.com").await;
    let (newest, _) = api.login("yan@example.com").await;
    let page: Value = api
        .get("/v1/auth/sessions?limit=2", &newest)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["current"], true);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = api
        .get(
            &format!("/v1/auth/sessions?limit=2&cursor={cursor}"),
            &newest,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_cursor"], Value::Null);
    let stranger_session: Value = api
        .get("/v1/auth/sessions", &stranger)
        .await
        .json()
        .await
        .unwrap();
    let foreign = stranger_session["items"][0]["id"].as_str().unwrap();
    for query in [format!("cursor={foreign}"), "cursor=%27x".to_owned()] {
        assert_eq!(
            code(
                api.get(&format!("/v1/auth/sessions?{query}"), &newest)
                    .await
            )
            .await,
            (400, "invalid_request".into()),
            "{query}"
        );
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_take_the_same_time_and_so_do_registrations() {
    // 200 interleaved attempts of each kind, each from its own address so no throttle
    // interferes; the medians must agree within 0.8–1.25.
    const ATTEMPTS: usize = 200;
    const ACCOUNTS: usize = 4;
    let server = proxied_server(Database::Sqlite);
    let api = Api::new(&server);
    for account in 0..ACCOUNTS {
        let email = format!("timing{account}@example.com");
        assert_eq!(api.register(&email, PASSWORD).await.status(), 201);
    }
    let timed = |path: &'static str, body: Value, ip: String| {
        let api = &api;
        async move {
            let started = Instant::now();
            let response = api.post(path, body, &ip).await;
            let elapsed = started.elapsed();
            (response.status().as_u16(), elapsed)
        }
    };
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    let (mut existing, mut fresh) = (Vec::new(), Vec::new());
    for i in 0..ATTEMPTS {
        let (a, b) = (i / 250, i % 250);
        let login = |email: String, octet: usize| {
            timed(
                "/v1/auth/login",
                json!({"email": email, "password": "wrong password, quite long"}),
                format!("10.{octet}.{a}.{b}"),
            )
        };
        let (status, elapsed) = login(format!("timing{}@example.com", i % ACCOUNTS), 1).await;
        assert_eq!(status, 401);
        wrong.push(elapsed);
        let (status, elapsed) = login(format!("nobody{i}@example.com"), 2).await;
        assert_eq!(status, 401);
        unknown.push(elapsed);
        let register = |email: String, octet: usize| {
            timed(
                "/v1/auth/register",
                json!({"email": email, "password": PASSWORD, "display_name": "Timing"}),
                format!("10.{octet}.{a}.{b}"),
            )
        };
        let (status, elapsed) = register(format!("timing{}@example.com", i % ACCOUNTS), 3).await;
        assert_eq!(status, 201);
        existing.push(elapsed);
        let (status, elapsed) = register(format!("new{i}@example.com"), 4).await;
        assert_eq!(status, 201);
        fresh.push(elapsed);
    }
    let login_ratio = median(&mut wrong).as_secs_f64() / median(&mut unknown).as_secs_f64();
    let register_ratio = median(&mut existing).as_secs_f64() / median(&mut fresh).as_secs_f64();
    eprintln!(
        "timing medians: login wrong password {:?} / unknown email {:?} = {login_ratio:.3}; \
         register existing {:?} / new {:?} = {register_ratio:.3}",
        median(&mut wrong),
        median(&mut unknown),
        median(&mut existing),
        median(&mut fresh)
    );
    assert!(
        (0.8..=1.25).contains(&login_ratio),
        "login ratio {login_ratio}"
    );
    assert!(
        (0.8..=1.25).contains(&register_ratio),
        "register ratio {register_ratio}"
    );
}

#[tokio::test]
async fn a_pending_totp_secret_is_confirmed_only_by_its_session_and_only_a_few_times() {
    // Another session of the user cannot guess the confirmation code of an abandoned pending
    // secret; the enrolling session gets five tries.
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("xan@example.com", PASSWORD).await.status(),
        201
    );
    let (enrolling, _) = api.login("xan@example.com").await;
    let (other, _) = api.login("xan@example.com").await;
    let confirm = |token: String, totp: String| {
        api.client
            .post(format!("{}/v1/mfa/totp/confirm", api.base))
            .bearer_auth(token)
            .json(&json!({"code": totp}))
            .send()
    };
    let enrolment: Value = enroll_totp(&api, &enrolling, None)
        .await
        .json()
        .await
        .unwrap();
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    let right = code_at(&secret, now());
    assert_eq!(
        code(confirm(other.clone(), right.clone()).await.unwrap()).await,
        (401, "invalid_code".into()),
        "another session confirmed the pending secret"
    );
    for wrong in ["000001", "000002", "000003", "000004", "000005"] {
        assert_eq!(
            code(confirm(enrolling.clone(), wrong.into()).await.unwrap()).await,
            (401, "invalid_code".into())
        );
    }
    // Five wrong codes spent the pending secret: even the right code is refused now.
    assert_eq!(
        code(confirm(enrolling.clone(), right).await.unwrap()).await,
        (401, "invalid_code".into())
    );
    // A fresh enrolment starts over, and its right code confirms.
    let enrolment: Value = enroll_totp(&api, &enrolling, None)
        .await
        .json()
        .await
        .unwrap();
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    let confirmed = confirm(enrolling.clone(), code_at(&secret, now()))
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
}
