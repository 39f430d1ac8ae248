use axum::response::IntoResponse;
use http_body_util::BodyExt;

use mcpgw_shared::model::Permission;

use super::*;

async fn render(
    error: GatewayError,
    id: Option<&str>,
) -> (StatusCode, http::HeaderMap, serde_json::Value) {
    let rid = RequestId::generate();
    let raw = id.map(|i| RawValue::from_string(i.to_owned()).unwrap());
    let response = error.into_failure(&rid, raw.as_deref()).into_response();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["error"]["data"]["request_id"], rid.as_str());
    (parts.status, parts.headers, json)
}

#[tokio::test]
async fn a_401_carries_www_authenticate_and_the_hint() {
    let (status, headers, json) = render(GatewayError::Revoked, Some("5")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(json["id"], 5);
    assert_eq!(json["error"]["data"]["reason"], "key_revoked");
    assert!(
        json["error"]["data"]["hint"]
            .as_str()
            .unwrap()
            .contains("new")
    );
}

#[tokio::test]
async fn statuses_and_codes_follow_the_error_table() {
    let cases = [
        (
            GatewayError::MissingPermission(Permission::McpInvoke),
            StatusCode::FORBIDDEN,
            SERVER_ERROR,
        ),
        (
            GatewayError::UnknownServer("x".into()),
            StatusCode::NOT_FOUND,
            SERVER_ERROR,
        ),
        (
            GatewayError::UpstreamSessionGone,
            StatusCode::NOT_FOUND,
            SESSION_NOT_FOUND,
        ),
        (
            GatewayError::BodyTooLarge(10),
            StatusCode::PAYLOAD_TOO_LARGE,
            SERVER_ERROR,
        ),
        (
            GatewayError::HeaderMismatch { header: "Mcp-Name" },
            StatusCode::BAD_REQUEST,
            HEADER_MISMATCH,
        ),
        (
            GatewayError::UnsupportedVersion {
                requested: "x".into(),
                supported: &crate::protocol::era::KNOWN_VERSIONS,
            },
            StatusCode::BAD_REQUEST,
            UNSUPPORTED_VERSION,
        ),
        (
            GatewayError::BatchNotAllowed,
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
        ),
        (
            GatewayError::UpstreamTimeout {
                slug: "u".into(),
                secs: 1,
            },
            StatusCode::GATEWAY_TIMEOUT,
            SERVER_ERROR,
        ),
        (
            GatewayError::NotReady,
            StatusCode::SERVICE_UNAVAILABLE,
            SERVER_ERROR,
        ),
        (
            GatewayError::TokenCheckUnavailable("the issuer's keys could not be fetched".into()),
            StatusCode::SERVICE_UNAVAILABLE,
            SERVER_ERROR,
        ),
    ];
    for (error, status, code) in cases {
        let (got, headers, json) = render(error, None).await;
        assert_eq!(got, status);
        assert!(!headers.contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(json["id"], serde_json::Value::Null);
        assert_eq!(json["error"]["code"], code);
    }
}

#[tokio::test]
async fn an_unsupported_version_names_the_supported_and_the_requested_ones() {
    let (status, _, json) = render(
        GatewayError::UnsupportedVersion {
            requested: "2099-01-01".into(),
            supported: &crate::protocol::era::KNOWN_VERSIONS,
        },
        Some("1"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"]["code"], UNSUPPORTED_VERSION);
    assert_eq!(json["error"]["data"]["requested"], "2099-01-01");
    let supported = json["error"]["data"]["supported"].as_array().unwrap();
    assert!(supported.contains(&serde_json::json!("2026-07-28")));
    assert!(supported.contains(&serde_json::json!("2025-11-25")));
}

#[tokio::test]
async fn a_valid_key_without_invoke_is_told_which_permission_it_lacks() {
    let (status, headers, json) =
        render(GatewayError::MissingPermission(Permission::McpInvoke), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(json["error"]["data"]["reason"], "missing_permission");
    let hint = json["error"]["data"]["hint"].as_str().unwrap();
    assert!(
        hint.contains("mcp.invoke") && !hint.contains("copied"),
        "{hint}"
    );
}

#[tokio::test]
async fn upstream_errors_name_the_slug_never_the_url() {
    let (status, _, json) = render(
        GatewayError::UpstreamUnreachable {
            slug: "github".into(),
            detail: "connection refused".into(),
        },
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`github`") && !message.contains("http"),
        "{message}"
    );
}

#[tokio::test]
async fn a_token_that_could_not_be_checked_is_retried_not_refused() {
    let (status, headers, json) = render(
        GatewayError::TokenCheckUnavailable("the issuer's keys could not be fetched".into()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "5");
    assert!(
        !headers.contains_key(header::WWW_AUTHENTICATE),
        "no challenge: the client keeps its token"
    );
    assert_eq!(json["error"]["data"]["reason"], "token_check_unavailable");
    assert!(
        json["error"]["data"]["hint"]
            .as_str()
            .unwrap()
            .contains("same token"),
        "{json}"
    );
}
