//! The gateway as the authorization server of its MCP servers, against real clients and a real
//! control plane: the Python `mcp` SDK's OAuth client connects with no API key in both protocol
//! eras — discovery from the 401, registration (RFC 7591, or a Client ID Metadata Document
//! served over https by the test), the browser step on the gateway's sign-in and consent pages
//! (played by the script with a user API key), the code exchange, `tools/call`, and a refresh
//! once the access token expired. Then the refusals: a token for another server, an expired or
//! unsigned token, one signed with a key not the gateway's (naming its issuer or a foreign
//! one), a redirect URI one character off, a reused refresh token (which revokes its
//! family), and a metadata document that is not its own `client_id`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::fleet::{DataPlaneProcess, Fleet};
use mcpgw_e2e::gateway_oauth::{REDIRECT_URI, form, register_public_client, tokens_by_hand};
use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::pki::TestPki;
use mcpgw_e2e::tls_proxy::TlsProxy;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SOON: Duration = Duration::from_secs(20);
/// How long the gateway's access tokens live here: the clients outwait it to refresh.
const ACCESS_TOKEN_TTL_SECS: u64 = 3;

struct Setup {
    _nats: PrivateNats,
    fleet: Fleet,
    _upstream: DemoUpstream,
    pod: DataPlaneProcess,
    /// A user API key of the workspace (user `alice`).
    alice: String,
}

impl Setup {
    async fn start(pod_env: &[(&'static str, String)]) -> Self {
        let nats = PrivateNats::start().await;
        let fleet = Fleet::start_with(
            &nats.url(),
            vec![(
                "MCPGW_OAUTH_ACCESS_TOKEN_TTL",
                format!("{ACCESS_TOKEN_TTL_SECS}s"),
            )],
        )
        .await;
        let upstream = DemoUpstream::spawn().await.expect("demo upstream");
        let workspace = fleet.workspace("oauth").await;
        for slug in ["demo", "other"] {
            fleet
                .create(
                    "/v1/servers",
                    json!({"workspace_id": workspace, "slug": slug, "name": format!("Demo {slug}"), "url": upstream.url()}),
                )
                .await;
        }
        let alice = fleet
            .create(
                "/v1/api-keys",
                json!({"workspace_id": workspace, "name": "alice", "type": "user",
                       "user_id": "alice", "permissions": ["mcp.invoke"]}),
            )
            .await["key"]
            .as_str()
            .expect("a key")
            .to_owned();
        let token = fleet.data_plane_token(None).await;
        let pod = fleet.data_plane(&token, pod_env).await;
        pod.wait_applied(fleet.head().await, SOON).await;
        Self {
            _nats: nats,
            fleet,
            _upstream: upstream,
            pod,
            alice,
        }
    }
}

/// Runs `tests/peers/oauth_client.py` against `url`.
async fn python_client(url: &str, mode: &str, key: &str, metadata_url: Option<&str>) -> Value {
    let script = mcpgw_e2e::peers::script("oauth_client.py");
    let wait = (ACCESS_TOKEN_TTL_SECS + 2).to_string();
    let mut args = vec![script.to_str().unwrap(), url, mode, key, wait.as_str()];
    args.extend(metadata_url);
    let out = mcpgw_e2e::peers::run(
        &mcpgw_e2e::peers::python(),
        &args,
        &mcpgw_e2e::peers::tests_dir(),
        Duration::from_secs(90),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the OAuth client failed: {stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"))
}

/// What every run of the client must have seen: both calls answered, the token refreshed, the
/// pages shown unframeable, the cookies `__Host-` ones.
fn check_run(run: &Value, issuer: &str) {
    check_run_through(
        run,
        issuer,
        &["Sign in to the MCP gateway", "Allow access?"],
    );
}

/// [`check_run`], the gateway having shown the pages titled `titles`.
fn check_run_through(run: &Value, issuer: &str, titles: &[&str]) {
    assert_eq!(run["first"], "5", "{run}");
    assert_eq!(run["second"], "9", "{run}");
    let tokens = run["access_tokens"].as_array().expect("tokens");
    assert!(tokens.len() >= 2, "the expired token was refreshed: {run}");
    assert_eq!(run["scope"], "mcp:tools:list mcp:tools:call", "{run}");
    for landing in run["landings"].as_array().expect("landings") {
        assert_eq!(landing["iss"], issuer, "{run}");
    }
    let pages = run["pages"].as_array().expect("pages");
    let shown: Vec<&str> = pages.iter().filter_map(|p| p["title"].as_str()).collect();
    assert_eq!(shown, titles, "{run}");
    for page in pages.iter().filter(|p| p["title"].is_string()) {
        assert!(
            page["csp"]
                .as_str()
                .is_some_and(|csp| csp.contains("frame-ancestors 'none'")),
            "{page}"
        );
        assert_eq!(page["frame"], "DENY", "{page}");
    }
    let cookies: Vec<&str> = pages
        .iter()
        .filter_map(|p| p["set_cookie"].as_str())
        .collect();
    assert!(
        cookies.iter().all(|c| c.starts_with("__Host-")
            && c.contains("Secure")
            && c.contains("HttpOnly")
            && c.contains("Path=/")),
        "{cookies:?}"
    );
}

/// The claims of a JWT, unverified.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_clients_sign_in_through_the_gateway_in_both_protocol_eras() {
    let s = Setup::start(&[]).await;
    let base = s.pod.url();
    let issuer = format!("{base}/");
    let server_url = s.pod.mcp_url("demo");
    let http = reqwest::Client::new();

    // Discovery: the 401 names the server's metadata, which names the gateway's issuer.
    let answer = McpClient::new(server_url.clone(), "")
        .post_stateless(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    let metadata_url = format!("{base}/.well-known/oauth-protected-resource/demo/mcp");
    let challenge = answer.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata_url}\""))
            && challenge.contains("scope=\"mcp:tools:list mcp:tools:call\""),
        "{challenge}"
    );
    let resource: Value = http
        .get(&metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resource["resource"], server_url.as_str(), "{resource}");
    assert_eq!(
        resource["authorization_servers"],
        json!([issuer]),
        "{resource}"
    );
    let metadata: Value = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], issuer.as_str(), "{metadata}");
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(metadata["client_id_metadata_document_supported"], true);

    // The whole flow, in each era, with dynamic registration; then a refresh.
    for mode in ["legacy", "2026-07-28"] {
        let run = python_client(&server_url, mode, &s.alice, None).await;
        check_run(&run, &issuer);
        let token = run["access_tokens"][0].as_str().unwrap();
        let said = claims(token);
        assert_eq!(said["aud"], server_url.as_str(), "{said}");
        assert_eq!(said["sub"], "alice", "{said}");
        assert_eq!(said["iss"], issuer.as_str(), "{said}");

        // An access token works only at its own server.
        let why = McpClient::new(s.pod.mcp_url("other"), token)
            .token_refusal()
            .await;
        assert!(why.contains("issued for another server"), "{why}");
        // And not after it expired (the client was refreshed past it).
        let why = McpClient::new(server_url.clone(), token)
            .token_refusal()
            .await;
        assert!(why.contains("expired"), "{why}");

        // A refresh token used twice: the second use revokes the whole family.
        let client_id = run["client_id"].as_str().unwrap();
        let refresh = run["refresh_token"].as_str().unwrap();
        let token_at = format!("{base}/oauth/token");
        let refreshed = |refresh: String| {
            let http = http.clone();
            let token_at = token_at.clone();
            let client_id = client_id.to_owned();
            async move {
                let answer = http
                    .post(token_at)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &refresh),
                        ("client_id", &client_id),
                    ]))
                    .send()
                    .await
                    .unwrap();
                (answer.status(), answer.json::<Value>().await.unwrap())
            }
        };
        let (status, rotated) = refreshed(refresh.to_owned()).await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let next = rotated["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(next, refresh);
        let (status, reused) = refreshed(refresh.to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reused}");
        assert_eq!(reused["error"], "invalid_grant", "{reused}");
        let (status, family) = refreshed(next).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{family}");
        assert_eq!(
            family["error"], "invalid_grant",
            "the family is revoked: {family}"
        );
    }

    // An unsigned token naming the gateway's issuer is refused.
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#),
        URL_SAFE_NO_PAD.encode(
            json!({"iss": issuer, "aud": server_url, "sub": "mallory", "exp": 4_000_000_000u64})
                .to_string()
        )
    );
    McpClient::new(server_url.clone(), &unsigned)
        .token_refusal()
        .await;

    // Tokens signed with another key: one naming the gateway's issuer and its published key
    // id, and one of a foreign issuer (no workspace here trusts another issuer).
    let jwks: Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gateway_kid = jwks["keys"][0]["kid"].as_str().expect("a published key id");
    let attacker = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let attacker = jsonwebtoken::EncodingKey::from_ec_pem(attacker.serialize_pem().as_bytes())
        .expect("a P-256 key");
    let now = chrono::Utc::now().timestamp();
    for (iss, kid, why) in [
        (
            issuer.as_str(),
            gateway_kid,
            "its signature does not verify",
        ),
        (
            "https://attacker.example/",
            "attacker-key",
            "no workspace accepts tokens of issuer `https://attacker.example/`",
        ),
    ] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid.into());
        let forged = jsonwebtoken::encode(
            &header,
            &json!({"iss": iss, "aud": server_url, "sub": "alice", "client_id": "forged",
                    "scope": "mcp:tools:list mcp:tools:call", "iat": now, "exp": now + 600}),
            &attacker,
        )
        .unwrap();
        let refused = McpClient::new(server_url.clone(), &forged)
            .token_refusal()
            .await;
        assert!(refused.contains(why), "{refused}");
    }

    // API keys keep working beside OAuth.
    let keyed = McpClient::new(server_url.clone(), &s.alice)
        .post_stateless(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .await;
    assert_eq!(keyed.status, StatusCode::OK, "{}", keyed.body);
    let _ = &s.fleet;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_endpoint_refuses_what_it_cannot_trust() {
    let s = Setup::start(&[]).await;
    let base = s.pod.url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let registered: Value = http
        .post(format!("{base}/oauth/register"))
        .json(
            &json!({"client_name": "Agent", "redirect_uris": [REDIRECT_URI],
                      "token_endpoint_auth_method": "none"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"].as_str().expect("a client id");
    let verifier = "x".repeat(50);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let authorize = |redirect_uri: &str| {
        format!(
            "{base}/oauth/authorize?{}",
            form(&[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("resource", &s.pod.mcp_url("demo")),
                ("state", "s1"),
            ])
        )
    };
    // The registered URI (any loopback port) gets the sign-in page.
    let page = http
        .get(authorize("http://127.0.0.1:40001/callback"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // One character off: shown, never redirected to.
    let page = http
        .get(authorize("http://127.0.0.1:53682/callbacK"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.headers().get("location").is_none());
    let text = page.text().await.unwrap();
    assert!(text.contains("is not one the client registered"), "{text}");
    // A registration with a redirect URI that is not https nor loopback is refused.
    let refused = http
        .post(format!("{base}/oauth/register"))
        .json(&json!({"redirect_uris": ["http://evil.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let said: Value = refused.json().await.unwrap();
    assert_eq!(said["error"], "invalid_redirect_uri", "{said}");

    // A metadata document whose client_id is not its own URL is refused.
    let pki = TestPki::generate();
    let documents = mcpgw_e2e::oauth_peers::StaticDocuments::start(vec![(
        "/wrong.json",
        json!({"client_id": "https://elsewhere.example/client.json", "redirect_uris": [REDIRECT_URI]}),
    )])
    .await;
    let proxy = TlsProxy::start(&pki).await;
    proxy.forward_to(documents.port());
    let wrong = format!("{}/wrong.json", proxy.url());
    let pod = s
        .fleet
        .data_plane(
            &s.fleet.data_plane_token(None).await,
            &[("SSL_CERT_FILE", pki.ca().display().to_string())],
        )
        .await;
    pod.wait_applied(s.fleet.head().await, SOON).await;
    let url = format!(
        "{}/oauth/authorize?{}",
        pod.url(),
        form(&[
            ("response_type", "code"),
            ("client_id", &wrong),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", &pod.mcp_url("demo")),
        ])
    );
    let page = http.get(url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let text = page.text().await.unwrap();
    assert!(text.contains("not its own URL"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_named_by_its_metadata_document_signs_in_without_registering() {
    let pki = TestPki::generate();
    let proxy = TlsProxy::start(&pki).await;
    let document_url = format!("{}/agent/client.json", proxy.url());
    let documents = mcpgw_e2e::oauth_peers::StaticDocuments::start(vec![(
        "/agent/client.json",
        json!({"client_id": document_url, "client_name": "Document Agent",
               "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none",
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}),
    )])
    .await;
    proxy.forward_to(documents.port());
    let s = Setup::start(&[("SSL_CERT_FILE", pki.ca().display().to_string())]).await;
    let issuer = format!("{}/", s.pod.url());
    let run = python_client(
        &s.pod.mcp_url("demo"),
        "2026-07-28",
        &s.alice,
        Some(&document_url),
    )
    .await;
    check_run(&run, &issuer);
    assert_eq!(run["client_id"], document_url.as_str(), "{run}");
    let consent = run["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "Allow access?")
        .expect("a consent page");
    let text = consent["text"].as_str().unwrap();
    assert!(
        text.contains("Document Agent") && text.contains("127.0.0.1"),
        "the consent page names the client and the redirect host: {text}"
    );
}

/// Runs the official conformance suite's authorization-server scenarios against the gateway's
/// issuer; the one that needs a person signing in is driven through the gateway's pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suites_authorization_server_scenarios_pass() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let s = Setup::start(&[]).await;
    let issuer = format!("{}/", s.pod.url());
    let port = mcpgw_e2e::process::free_port();
    let registered: Value = reqwest::Client::new()
        .post(format!("{}/oauth/register", s.pod.url()))
        .json(
            &json!({"client_name": "conformance", "token_endpoint_auth_method": "none",
                      "redirect_uris": [format!("http://127.0.0.1:{port}/callback")]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"].as_str().expect("a client id");
    let results = tempfile::tempdir().unwrap();
    let suite = mcpgw_e2e::peers::npm_file("conformance-next/dist/index.js");
    let port_text = port.to_string();
    let server_url = s.pod.mcp_url("demo");
    let mut child = tokio::process::Command::new(mcpgw_e2e::peers::node())
        .args([
            suite.to_str().unwrap(),
            "authorization",
            "--url",
            &issuer,
            "--client-id",
            client_id,
            "--resource",
            &server_url,
            "--port",
            &port_text,
            "--output-dir",
            results.path().to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the conformance suite starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    let authorize = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            said.push(line.clone());
            if line.starts_with(&format!("{}/oauth/authorize?", s.pod.url())) {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("the suite asks for a sign-in within a minute");
    let authorize = authorize.unwrap_or_else(|| panic!("no authorization URL: {said:#?}"));
    // The person signing in: the user's key on the sign-in page, then Allow; the browser lands
    // on the suite's callback.
    let landing = mcpgw_e2e::browser::sign_in(&authorize, &s.alice).await;
    assert!(
        landing
            .url
            .starts_with(&format!("http://127.0.0.1:{port}/callback?")),
        "{landing:?}"
    );
    let rest = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            said.push(line);
        }
        child.wait().await.unwrap()
    })
    .await
    .expect("the suite finishes");
    let output = said.join("\n");
    eprintln!("{output}");
    assert!(rest.success(), "the suite failed:\n{output}");
    for scenario in [
        "authorization-server-metadata-endpoint",
        "authorization-code-grant",
    ] {
        assert!(output.contains(scenario), "{scenario} ran:\n{output}");
    }
    assert!(
        output.contains(", 0 failed") && !output.contains("FAILURE") && !output.contains("✗"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_call_scope_lists_tools_but_calling_one_asks_for_more() {
    let s = Setup::start(&[]).await;
    let client_id = &register_public_client(&s.pod.url(), "reader").await;
    let tokens = tokens_by_hand(
        &s.pod.url(),
        &s.pod.mcp_url("demo"),
        client_id,
        &s.alice,
        "",
        "mcp:tools:list",
    )
    .await;
    assert_eq!(tokens["scope"], "mcp:tools:list", "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let client = McpClient::new(s.pod.mcp_url("demo"), access);
    let listed = client
        .post_stateless(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let called = client
        .post_stateless(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 1, "b": 2}}}))
        .await;
    assert_eq!(called.status, StatusCode::FORBIDDEN, "{}", called.body);
    assert_eq!(called.body["error"]["data"]["reason"], "insufficient_scope");
    let challenge = called.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"mcp:tools:call\"")
            && challenge.contains(&format!(
                "resource_metadata=\"{}/.well-known/oauth-protected-resource/demo/mcp\"",
                s.pod.url()
            )),
        "{challenge}"
    );

    // Introspection tells the client what its token is; revocation ends the grant.
    let http = reqwest::Client::new();
    let introspect = |token: String| {
        let http = http.clone();
        let at = format!("{}/oauth/introspect", s.pod.url());
        let client_id = client_id.to_owned();
        async move {
            http.post(at)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[("token", &token), ("client_id", &client_id)]))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let seen = introspect(access.to_owned()).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["sub"], "alice", "{seen}");
    assert_eq!(introspect(refresh.clone()).await["active"], true);
    let revoked = http
        .post(format!("{}/oauth/revoke", s.pod.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", &refresh), ("client_id", client_id)]))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(introspect(refresh).await["active"], false);
    assert_eq!(introspect(access.to_owned()).await["active"], false);

    // The pod refuses the revoked grant's access token at once, not when it expires.
    let revoked_at = std::time::Instant::now();
    let refused = loop {
        let answer = client
            .post_stateless(
                json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}),
            )
            .await;
        if answer.status != StatusCode::OK {
            break answer;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "the revoked grant's token is still served"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    println!(
        "a revoked grant's access token was refused {:?} after the revocation answered",
        revoked_at.elapsed()
    );
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert_eq!(refused.body["error"]["data"]["reason"], "invalid_token");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("its grant was revoked"),
        "{}",
        refused.body
    );

    // The admin API lists the user's grants, revoked included.
    let (status, grants) = s
        .fleet
        .admin(reqwest::Method::GET, "/v1/oauth/grants?user_id=alice", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{grants}");
    let items = grants["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{grants}");
    assert_eq!(items[0]["state"], "revoked", "{grants}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_sign_in_through_their_workspaces_identity_provider() {
    let s = Setup::start(&[]).await;
    let base = s.pod.url();
    let _idp = with_identity_provider(&s).await;

    // The browser goes to the provider, signs in there as erin, and comes back to consent.
    let client_id = register_public_client(&base, "agent").await;
    let resource = s.pod.mcp_url("demo");
    let tokens = tokens_by_hand(&base, &resource, &client_id, "", "erin", "mcp:*").await;
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    assert_eq!(claims(access)["sub"], "erin");
    let called = McpClient::new(resource.clone(), access)
        .post_stateless(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 20, "b": 22}}}))
        .await;
    assert_eq!(called.status, StatusCode::OK, "{}", called.body);
    assert_eq!(called.body["result"]["content"][0]["text"], "42");

    // A user the workspace's rules leave out is told so, and gets no code.
    let verifier = "w".repeat(50);
    let authorize = format!(
        "{base}/oauth/authorize?{}",
        form(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT_URI),
            (
                "code_challenge",
                &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
            ),
            ("code_challenge_method", "S256"),
            ("resource", &resource),
        ])
    );
    let landing = mcpgw_e2e::browser::sign_in(&authorize, "mallory").await;
    assert_eq!(landing.status, StatusCode::FORBIDDEN, "{landing:?}");
    assert!(landing.text.contains("`sub` claim"), "{landing:?}");

    // A pod whose operator turned external identity providers off says so, with 403.
    let closed = s
        .fleet
        .data_plane(
            &s.fleet.data_plane_token(None).await,
            &[("MCPGW_EXTERNAL_AUTH", "false".to_owned())],
        )
        .await;
    closed.wait_applied(s.fleet.head().await, SOON).await;
    let client_id = register_public_client(&closed.url(), "agent").await;
    let page = reqwest::Client::new()
        .get(format!(
            "{}/oauth/authorize?{}",
            closed.url(),
            form(&[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", REDIRECT_URI),
                (
                    "code_challenge",
                    &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
                ),
                ("code_challenge_method", "S256"),
                ("resource", &closed.mcp_url("demo")),
            ])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let text = page.text().await.unwrap();
    assert!(text.contains("MCPGW_EXTERNAL_AUTH=false"), "{text}");
}

/// Makes `oidc-provider` the identity provider of the setup's workspace, with the gateway
/// registered as its confidential client (sent back to the pod's callback) and admitting the
/// users `erin` and `frank` only; the provider runs while the value lives.
async fn with_identity_provider(s: &Setup) -> mcpgw_e2e::oauth_peers::AuthorizationServer {
    use mcpgw_e2e::oauth_peers::AuthorizationServer;

    let base = s.pod.url();
    let idp = AuthorizationServer::start(
        json!([{"client_id": "gateway", "client_secret": "gateway-secret-0123456789",
                "redirect_uris": [format!("{base}/oauth/idp-callback")],
                "grant_types": ["authorization_code"], "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic"}]),
        Duration::from_secs(300),
    )
    .await;
    let (status, workspaces) = s
        .fleet
        .admin(reqwest::Method::GET, "/v1/workspaces", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{workspaces}");
    let workspace = workspaces["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "oauth")
        .expect("the workspace")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = s
        .fleet
        .admin(
            reqwest::Method::PATCH,
            &format!("/v1/workspaces/{workspace}"),
            Some(
                json!({"identity_provider": {"issuer": idp.issuer, "client_id": "gateway",
                "client_secret": "gateway-secret-0123456789", "scopes": "openid",
                "user_claim": "sub", "required_claims": {"sub": ["erin", "frank"]}}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.to_string().contains("gateway-secret"), "{body}");
    s.pod.wait_applied(s.fleet.head().await, SOON).await;

    idp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_signs_in_through_the_workspaces_identity_provider_in_both_eras() {
    let s = Setup::start(&[]).await;
    let _idp = with_identity_provider(&s).await;
    let issuer = format!("{}/", s.pod.url());
    for mode in ["legacy", "2026-07-28"] {
        // The script logs in at the provider as erin (no API key anywhere).
        let run = python_client(&s.pod.mcp_url("demo"), mode, "erin", None).await;
        check_run_through(&run, &issuer, &["Allow access?"]);
        let said = claims(run["access_tokens"][0].as_str().unwrap());
        assert_eq!(said["sub"], "erin", "{said}");
    }
}
