//! Passkeys with a real software authenticator (webauthn-authenticator-rs's SoftPasskey):
//! registration, second-factor login, tampered assertions, single-use ceremonies, step-up.

use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

use crate::identity::{Api, PASSWORD, code, decode_part};
use crate::sqlite_server;

pub fn origin() -> url::Url {
    // The relying party is `server.public_origin`; the browser reports the page's origin.
    url::Url::parse("https://localhost:8443").unwrap()
}

pub async fn post_json(
    api: &Api,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = api.client.post(format!("{}{path}", api.base)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

pub async fn ceremony(response: reqwest::Response) -> (String, Value) {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (body["ceremony_id"].as_str().unwrap().to_owned(), body)
}

/// Asks the authenticator for an assertion for the options in `body`.
pub fn assert_with(authenticator: &mut SoftPasskey, body: Value) -> Value {
    let options: RequestChallengeResponse = serde_json::from_value(body).unwrap();
    serde_json::to_value(authenticator.do_authentication(origin(), options).unwrap()).unwrap()
}

#[tokio::test]
async fn passkeys_register_sign_in_as_second_factor_and_step_up() {
    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    let mut authenticator = SoftPasskey::new(true);
    assert_eq!(
        api.register("quinn@example.com", PASSWORD).await.status(),
        201
    );
    let (pwd_token, _) = api.login("quinn@example.com").await;

    // Registration.
    let (id, options) = ceremony(
        post_json(
            &api,
            "/v1/mfa/webauthn/register/options",
            Some(&pwd_token),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let attestation =
        serde_json::to_value(authenticator.do_registration(origin(), options).unwrap()).unwrap();
    let registered = post_json(
        &api,
        "/v1/mfa/webauthn/register",
        Some(&pwd_token),
        json!({"ceremony_id": id, "credential": attestation}),
    )
    .await;
    assert_eq!(registered.status(), 201);
    let credential_id = registered.json::<Value>().await.unwrap()["credential_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!credential_id.is_empty());
    // The ceremony is single-use.
    let replayed = post_json(
        &api,
        "/v1/mfa/webauthn/register",
        Some(&pwd_token),
        json!({"ceremony_id": id, "credential": attestation}),
    )
    .await;
    assert_eq!(code(replayed).await, (401, "invalid_assertion".into()));
    let me: Value = api.get("/v1/me", &pwd_token).await.json().await.unwrap();
    assert_eq!(me["mfa"]["webauthn"], true);
    // A second passkey needs a fresh MFA.
    let guarded = post_json(
        &api,
        "/v1/mfa/webauthn/register/options",
        Some(&pwd_token),
        json!({}),
    )
    .await;
    assert_eq!(code(guarded).await, (401, "step_up_required".into()));

    // Second-factor login.
    let challenge: Value = api
        .login_from("quinn@example.com", PASSWORD, "192.0.2.60")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(challenge["methods"], json!(["webauthn"]));
    let ticket = challenge["mfa_ticket"].as_str().unwrap().to_owned();
    let (id, options) = ceremony(
        post_json(
            &api,
            "/v1/auth/webauthn/login/options",
            None,
            json!({"mfa_ticket": ticket}),
        )
        .await,
    )
    .await;
    let mut assertion = assert_with(&mut authenticator, options);
    // A tampered signature fails and burns the ceremony.
    let genuine = assertion.clone();
    let signature = assertion["response"]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if signature.starts_with('A') {
        signature.replacen('A', "B", 1)
    } else {
        format!("A{}", &signature[1..])
    };
    assertion["response"]["signature"] = json!(flipped);
    let tampered = post_json(
        &api,
        "/v1/auth/webauthn/login",
        None,
        json!({"ceremony_id": id, "credential": assertion}),
    )
    .await;
    assert_eq!(code(tampered).await, (401, "invalid_assertion".into()));
    let burnt = post_json(
        &api,
        "/v1/auth/webauthn/login",
        None,
        json!({"ceremony_id": id, "credential": genuine}),
    )
    .await;
    assert_eq!(code(burnt).await, (401, "invalid_assertion".into()));

    let (id, options) = ceremony(
        post_json(
            &api,
            "/v1/auth/webauthn/login/options",
            None,
            json!({"mfa_ticket": ticket}),
        )
        .await,
    )
    .await;
    let assertion = assert_with(&mut authenticator, options);
    let signed_in = post_json(
        &api,
        "/v1/auth/webauthn/login",
        None,
        json!({"ceremony_id": id, "credential": assertion}),
    )
    .await;
    assert_eq!(signed_in.status(), 200);
    assert!(signed_in.headers().get("set-cookie").is_some());
    let token = signed_in.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = decode_part(&token, 1);
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["amr"], json!(["pwd", "hwk"]));
    // The ticket was spent by that login.
    let spent = post_json(
        &api,
        "/v1/auth/webauthn/login/options",
        None,
        json!({"mfa_ticket": ticket}),
    )
    .await;
    assert_eq!(code(spent).await, (401, "invalid_code".into()));

    // Step-up of the older password-only session.
    let (id, options) = ceremony(
        post_json(
            &api,
            "/v1/auth/step-up/webauthn/options",
            Some(&pwd_token),
            json!({}),
        )
        .await,
    )
    .await;
    let assertion = assert_with(&mut authenticator, options);
    let stepped = post_json(
        &api,
        "/v1/auth/step-up/webauthn",
        Some(&pwd_token),
        json!({"ceremony_id": id, "credential": assertion}),
    )
    .await;
    assert_eq!(stepped.status(), 200);
    let stepped_token = stepped.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = decode_part(&stepped_token, 1);
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["sid"], decode_part(&pwd_token, 1)["sid"]);
    assert_eq!(
        post_json(
            &api,
            "/v1/mfa/webauthn/register/options",
            Some(&stepped_token),
            json!({})
        )
        .await
        .status(),
        200
    );

    // Another user cannot finish this user's ceremony.
    assert_eq!(
        api.register("rita@example.com", PASSWORD).await.status(),
        201
    );
    let (rita, _) = api.login("rita@example.com").await;
    let (id, options) = ceremony(
        post_json(
            &api,
            "/v1/auth/step-up/webauthn/options",
            Some(&pwd_token),
            json!({}),
        )
        .await,
    )
    .await;
    let assertion = assert_with(&mut authenticator, options);
    let stolen = post_json(
        &api,
        "/v1/auth/step-up/webauthn",
        Some(&rita),
        json!({"ceremony_id": id, "credential": assertion}),
    )
    .await;
    assert_eq!(code(stolen).await, (401, "invalid_assertion".into()));
}

/// A platform authenticator that stores discoverable credentials (1Password's passkey-rs),
/// which always confirms presence and verification, like a user tapping "Continue".
struct ApprovingUser;

#[async_trait::async_trait]
impl passkey::authenticator::UserValidationMethod for ApprovingUser {
    type PasskeyItem = passkey::types::Passkey;

    async fn check_user<'a>(
        &self,
        _hint: passkey::authenticator::UiHint<'a, Self::PasskeyItem>,
        _presence: bool,
        _verification: bool,
    ) -> Result<passkey::authenticator::UserCheck, passkey::types::ctap2::Ctap2Error> {
        Ok(passkey::authenticator::UserCheck {
            presence: true,
            verification: true,
        })
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn discoverable_passkeys_sign_in_without_a_password() {
    // Passkey-first: `{}` options, the authenticator picks the credential and user itself.
    use passkey::authenticator::Authenticator;
    use passkey::client::{Client, DefaultClientData};
    use passkey::crypto::aws_lc_rs::AwsLcRsBackend;
    use passkey::types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};

    let server = sqlite_server(&[]);
    let api = Api::new(&server);
    assert_eq!(
        api.register("uma@example.com", PASSWORD).await.status(),
        201
    );
    let (pwd_token, _) = api.login("uma@example.com").await;
    let store: Option<passkey::types::Passkey> = None;
    let authenticator = Authenticator::new(
        passkey::types::ctap2::Aaguid::new_empty(),
        store,
        ApprovingUser,
        AwsLcRsBackend,
    );
    // The development origin is https://localhost, which this client treats as a test setup.
    let mut client = Client::new(authenticator).allows_insecure_localhost(true);

    let (id, options) = ceremony(
        post_json(
            &api,
            "/v1/mfa/webauthn/register/options",
            Some(&pwd_token),
            json!({}),
        )
        .await,
    )
    .await;
    let options: CredentialCreationOptions = serde_json::from_value(options).unwrap();
    let created = client
        .register(&origin(), options, DefaultClientData)
        .await
        .unwrap();
    let registered = post_json(
        &api,
        "/v1/mfa/webauthn/register",
        Some(&pwd_token),
        json!({"ceremony_id": id, "credential": created}),
    )
    .await;
    assert_eq!(registered.status(), 201, "{:?}", registered.text().await);

    let (id, options) =
        ceremony(post_json(&api, "/v1/auth/webauthn/login/options", None, json!({})).await).await;
    assert!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    let options: CredentialRequestOptions = serde_json::from_value(options).unwrap();
    let asserted = client
        .authenticate(&origin(), options, DefaultClientData)
        .await
        .unwrap();
    let signed_in = post_json(
        &api,
        "/v1/auth/webauthn/login",
        None,
        json!({"ceremony_id": id, "credential": asserted}),
    )
    .await;
    assert_eq!(signed_in.status(), 200);
    let token = signed_in.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = decode_part(&token, 1);
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["amr"], json!(["hwk", "user"]));
    let me: Value = api.get("/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["email"], "uma@example.com");
}
