//! The authorization gRPC service called as a data plane calls it: authenticated by its token,
//! refusals answered in the message, not as gRPC errors.

use mcpgw_shared::proto::authorization_server::Authorization;
use mcpgw_shared::proto::{
    GetClientRequest, RegisterClientRequest, SigningKeysRequest, TokenOfClient, TokenRequest,
};
use tonic::{Code, Request};

use super::*;
use crate::application::tests::service;
use crate::application::{Caller, RegisterDataPlaneInput};

/// The service and a data plane's token.
async fn authorization() -> (AuthorizationService, String) {
    let service = service().await;
    let registered = service
        .register_data_plane(
            &Caller::System,
            RegisterDataPlaneInput {
                name: "edge".into(),
                workspaces: None,
            },
        )
        .await
        .unwrap();
    let token = registered.token.token;
    (
        AuthorizationService::new(service, ControlPlaneMetrics::new()),
        token,
    )
}

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test]
async fn every_call_needs_the_data_planes_token() {
    let (authorization, _) = authorization().await;
    let refused = authorization
        .signing_keys(Request::new(SigningKeysRequest {}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let wrong = with_token(SigningKeysRequest {}, "mcpgwdp_abcdefgh_wrong");
    assert_eq!(
        authorization.signing_keys(wrong).await.unwrap_err().code(),
        Code::Unauthenticated
    );
}

#[tokio::test]
async fn a_registered_client_is_answered_with_its_secret_once_and_found_again_without() {
    let (authorization, token) = authorization().await;
    let registration = RegisterClientRequest {
        client_name: "Agent".into(),
        redirect_uris: vec!["https://agent.example/cb".into()],
        token_endpoint_auth_method: "client_secret_post".into(),
        ..RegisterClientRequest::default()
    };
    let client = authorization
        .register_client(with_token(registration, &token))
        .await
        .unwrap()
        .into_inner();
    assert!(client.client_secret.is_some());
    assert_eq!(client.grant_types, ["authorization_code", "refresh_token"]);
    let found = authorization
        .get_client(with_token(
            GetClientRequest {
                client_id: client.client_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.client_secret, None);
    assert_eq!(found.client_id_issued_at, client.client_id_issued_at);

    let bad = RegisterClientRequest {
        redirect_uris: vec!["http://agent.example/cb".into()],
        ..RegisterClientRequest::default()
    };
    let refused = authorization
        .register_client(with_token(bad, &token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("redirect_uris[0]"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn refusals_are_answers_and_keys_are_published() {
    let (authorization, token) = authorization().await;
    let request = TokenRequest {
        grant_type: "authorization_code".into(),
        code: "mcpgw_ac_nonsense".into(),
        client_id: "https://agent.example/metadata.json".into(),
        ..TokenRequest::default()
    };
    let answer = authorization
        .exchange_token(with_token(request, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.error, "invalid_grant");
    assert!(answer.access_token.is_empty());

    let unknown_client = TokenOfClient {
        token: "anything".into(),
        client_id: "not-a-client".into(),
        client_secret: None,
    };
    let introspection = authorization
        .introspect_token(with_token(unknown_client, &token))
        .await
        .unwrap()
        .into_inner();
    assert!(introspection.invalid_client);
    assert_eq!(introspection.json, r#"{"active":false}"#);

    let jwks = authorization
        .signing_keys(with_token(SigningKeysRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let jwks: serde_json::Value = serde_json::from_str(&jwks.json).unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
}
