//! The `/v1/oauth` routes through the router, without a socket.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api::rest::router;
use crate::application::tests::service;
use crate::metrics::ControlPlaneMetrics;

/// Answers `method path` (with a JSON `body`) as the admin holding `key`.
async fn call(
    app: &axum::Router,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
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
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test]
async fn admins_rotate_and_list_signing_keys_and_revoke_clients_and_grants() {
    let service = service().await;
    let key = service.ensure_bootstrap_admin(None).await.unwrap().unwrap();
    let app = router(service, ControlPlaneMetrics::new());

    let (status, rotated) = call(
        &app,
        &key,
        Method::POST,
        "/v1/oauth/signing-keys/rotate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    assert_eq!(rotated["public_jwk"]["kid"], rotated["kid"]);
    assert!(rotated["public_jwk"].get("d").is_none());
    let (status, keys) = call(&app, &key, Method::GET, "/v1/oauth/signing-keys", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys["items"][0]["kid"], rotated["kid"]);
    assert!(!keys.to_string().contains("sealed"), "{keys}");

    let (status, clients) = call(&app, &key, Method::GET, "/v1/oauth/clients", None).await;
    assert_eq!((status, clients), (StatusCode::OK, json!({ "items": [] })));
    let unknown = format!("/v1/oauth/clients/{}", mcpgw_shared::OAuthClientId::new());
    let (status, _) = call(&app, &key, Method::DELETE, &unknown, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, grants) = call(
        &app,
        &key,
        Method::GET,
        "/v1/oauth/grants?user_id=alice",
        None,
    )
    .await;
    assert_eq!((status, grants), (StatusCode::OK, json!({ "items": [] })));
    let (status, revoked) = call(
        &app,
        &key,
        Method::POST,
        "/v1/oauth/grants/revoke",
        Some(json!({ "user_id": "alice" })),
    )
    .await;
    assert_eq!((status, revoked), (StatusCode::OK, json!({ "revoked": 0 })));
    let (status, refused) = call(
        &app,
        &key,
        Method::POST,
        "/v1/oauth/grants/revoke",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (status, _) = call(&app, "mcpgw_nope", Method::GET, "/v1/oauth/clients", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
