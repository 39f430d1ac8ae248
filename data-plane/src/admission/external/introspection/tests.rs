use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::json;

use super::*;

const AUDIENCE: &str = "https://gw.example/demo/mcp";

fn rules(endpoint: &str, extra: Value) -> JwtValidation {
    let mut rules = json!({"issuer": "https://idp.example", "introspection": {
        "endpoint": endpoint, "client_id": "gate way", "client_secret": "s:cret"
    }});
    if let (Value::Object(rules), Value::Object(extra)) = (&mut rules, extra) {
        rules.extend(extra);
    }
    JwtValidation::from_json_with_secret(&rules.to_string()).unwrap()
}

fn why(result: Result<(), GatewayError>) -> String {
    match result {
        Err(GatewayError::InvalidToken(why)) => why,
        other => panic!("refused as an invalid token: {other:?}"),
    }
}

#[test]
fn an_inactive_answer_is_refused() {
    let rules = rules("https://idp.example/introspect", json!({}));
    let why = why(check(&rules, &json!({"active": false}), AUDIENCE));
    assert!(why.contains("not active"), "{why}");
    assert!(check(&rules, &json!({}), AUDIENCE).is_err());
}

#[test]
fn issuer_audience_expiry_and_required_claims_are_checked_when_present() {
    let rules = rules(
        "https://idp.example/introspect",
        json!({"audiences": ["api://mcp"], "clock_tolerance_seconds": 0,
               "required_claims": {"scope": "mcp:tools"}}),
    );
    let now = Utc::now().timestamp();
    let good = json!({"active": true, "iss": "https://idp.example", "aud": AUDIENCE,
                      "exp": now + 60, "scope": "openid mcp:tools", "sub": "alice"});
    assert!(check(&rules, &good, AUDIENCE).is_ok());
    let mut listed = good.clone();
    listed["aud"] = json!(["other", "api://mcp"]);
    assert!(check(&rules, &listed, AUDIENCE).is_ok());
    // Absent iss and aud are not held against it.
    assert!(
        check(
            &rules,
            &json!({"active": true, "scope": "mcp:tools"}),
            AUDIENCE
        )
        .is_ok()
    );

    for (field, value, expected) in [
        ("iss", json!("https://evil.example"), "its issuer"),
        ("aud", json!("https://elsewhere/mcp"), "its audience is not"),
        ("exp", json!(now - 1), "it has expired"),
        ("nbf", json!(now + 600), "not valid yet"),
        ("scope", json!("openid"), "its `scope` claim"),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        let why = why(check(&rules, &bad, AUDIENCE));
        assert!(why.contains(expected), "{field}: {why}");
    }
}

#[test]
fn an_answer_is_kept_a_minute_at_most_and_never_past_its_expiry() {
    let now = Utc::now().timestamp();
    assert_eq!(kept_for(&json!({"active": true})), KEPT_FOR);
    assert_eq!(kept_for(&json!({"exp": now + 3600})), KEPT_FOR);
    assert!(kept_for(&json!({"exp": now + 5})) <= Duration::from_secs(5));
    assert_eq!(kept_for(&json!({"exp": now - 5})), Duration::ZERO);
}

/// An introspection endpoint answering `answer`, counting its calls and checking the client's
/// credentials and the form.
async fn endpoint(answer: Value) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route(
            "/introspect",
            post(
                |State((calls, answer)): State<(Arc<AtomicUsize>, Value)>,
                 headers: HeaderMap,
                 body: String| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let basic = format!("Basic {}", STANDARD.encode("gate+way:s%3Acret"));
                    let authorized = headers
                        .get("authorization")
                        .is_some_and(|v| v.to_str().ok() == Some(basic.as_str()));
                    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                        .into_owned()
                        .collect();
                    let expected = vec![
                        ("token".to_owned(), "opaque-token".to_owned()),
                        ("token_type_hint".to_owned(), "access_token".to_owned()),
                    ];
                    if !authorized || form != expected {
                        return axum::Json(json!({"active": false}));
                    }
                    axum::Json(answer)
                },
            ),
        )
        .with_state((calls.clone(), answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/introspect"), calls)
}

#[tokio::test]
async fn an_active_answer_is_asked_once_with_client_secret_basic_and_kept() {
    let (url, calls) = endpoint(json!({"active": true, "sub": "alice",
        "exp": Utc::now().timestamp() + 600}))
    .await;
    let rules = rules(&url, json!({}));
    let introspector = Introspector::default();
    let client = reqwest::Client::new();
    let egress = EgressPolicy::with_loopback();
    for _ in 0..2 {
        let claims = introspector
            .claims(&client, &egress, &rules, "opaque-token", AUDIENCE)
            .await
            .unwrap();
        assert_eq!(claims["sub"], "alice");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the answer is kept");
    let other = introspector
        .claims(&client, &egress, &rules, "another-token", AUDIENCE)
        .await;
    assert!(other.is_err(), "another token is asked about on its own");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_egress_policy_applies_to_the_endpoint() {
    let (url, calls) = endpoint(json!({"active": true, "sub": "alice"})).await;
    let refused = Introspector::default()
        .claims(
            &reqwest::Client::new(),
            &EgressPolicy::public_only(),
            &rules(&url, json!({})),
            "opaque-token",
            AUDIENCE,
        )
        .await;
    assert!(
        matches!(refused, Err(GatewayError::TokenCheckUnavailable(why)) if why.contains("could not be asked")),
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}
