//! `PATCH /v1/workspaces/{id}` with an identity provider, through the router: the client
//! secret is taken but never answered.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api::rest::router;
use crate::application::tests::service;
use crate::metrics::ControlPlaneMetrics;

const IDP_SECRET: &str = "idp-secret-marker-rest";

async fn call(
    app: &axum::Router,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"));
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text,
    )
}

#[tokio::test]
async fn the_identity_provider_is_answered_without_its_secret_and_null_removes_it() {
    let service = service().await;
    let key = service.ensure_bootstrap_admin(None).await.unwrap().unwrap();
    let app = router(service, ControlPlaneMetrics::new());
    let (status, created, _) = call(
        &app,
        &key,
        Method::POST,
        "/v1/workspaces",
        Some(json!({"name": "team"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!("/v1/workspaces/{}", created["id"].as_str().unwrap());

    let provider = json!({
        "issuer": "https://idp.example.com",
        "client_id": "gateway",
        "client_secret": IDP_SECRET,
        "allowed_email_domains": ["example.com"],
        "required_claims": {"groups": ["mcp-users"]},
    });
    let (status, updated, text) = call(
        &app,
        &key,
        Method::PATCH,
        &path,
        Some(json!({"identity_provider": provider})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert!(!text.contains(IDP_SECRET), "{text}");
    assert_eq!(
        updated["identity_provider"],
        json!({
            "issuer": "https://idp.example.com",
            "client_id": "gateway",
            "client_secret_set": true,
            "scopes": "openid email profile",
            "user_claim": "email",
            "allowed_email_domains": ["example.com"],
            "required_claims": {"groups": ["mcp-users"]},
        })
    );

    for read in [path.as_str(), "/v1/workspaces", "/v1/events"] {
        let (status, _, text) = call(&app, &key, Method::GET, read, None).await;
        assert_eq!(status, StatusCode::OK, "{read}: {text}");
        assert!(!text.contains(IDP_SECRET), "{read}: {text}");
        assert!(
            !text.contains(r#""ct":"#),
            "no ciphertext either: {read}: {text}"
        );
    }

    let (status, refused, _) = call(
        &app,
        &key,
        Method::PATCH,
        &path,
        Some(json!({"identity_provider": {"issuer": "https://idp.example.com", "client_id": "gateway", "scopes": "email"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(
        refused["error"]["field"], "identity_provider.scopes",
        "{refused}"
    );

    let (status, removed, _) = call(
        &app,
        &key,
        Method::PATCH,
        &path,
        Some(json!({"identity_provider": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert!(removed.get("identity_provider").is_none(), "{removed}");
}
