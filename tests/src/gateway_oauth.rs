//! A client of the gateway's own authorization server, step by step (where the Python SDK's
//! client is not the point): registration, the browser step through the gateway's pages (and
//! whatever sign-in they lead on to), and the code exchange.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::oauth_peers::StaticDocuments;

/// The loopback redirect URI test clients register; requests may use any port (RFC 8252).
pub const REDIRECT_URI: &str = "http://127.0.0.1:53682/callback";

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Registers a public client named `name` at the gateway `base`; its `client_id`.
pub async fn register_public_client(base: &str, name: &str) -> String {
    let registered: Value = reqwest::Client::new()
        .post(format!("{base}/oauth/register"))
        .json(
            &json!({"client_name": name, "redirect_uris": [REDIRECT_URI],
                      "token_endpoint_auth_method": "none"}),
        )
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("a registration answer");
    registered["client_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a client id: {registered}"))
        .to_owned()
}

/// Signs a user in for `client_id` at the server `resource` of the gateway `base`, asking for
/// `scope`: the gateway's sign-in page gets `api_key`, an upstream's login page `login`. The
/// browser lands on a callback the test serves, on another loopback port than the one
/// registered. Returns the token endpoint's answer.
pub async fn tokens_by_hand(
    base: &str,
    resource: &str,
    client_id: &str,
    api_key: &str,
    login: &str,
    scope: &str,
) -> Value {
    let callback = StaticDocuments::start(vec![("/callback", json!({}))]).await;
    let redirect_uri = format!("http://127.0.0.1:{}/callback", callback.port());
    let verifier = "v".repeat(64);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let authorize = format!(
        "{base}/oauth/authorize?{}",
        form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", &redirect_uri),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", resource),
            ("scope", scope),
            ("state", "by-hand"),
        ])
    );
    let landing = crate::browser::sign_in_with_key(&authorize, api_key, login).await;
    let landed = url::Url::parse(&landing.url).expect("a landing URL");
    assert!(
        landed.as_str().starts_with(&redirect_uri),
        "the browser is back at the client: {landing:?}"
    );
    let code = landed
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code: {landing:?}"));
    reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", &redirect_uri),
            ("client_id", client_id),
            ("resource", resource),
        ]))
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("a token answer")
}
