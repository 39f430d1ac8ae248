//! Tests of `assertions`: what a data plane gets verifies against the published JWKS, and
//! only a data plane serving the workspace gets one, for the server's own upstream.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mcpgw_shared::model::IdentityForwarding;

use super::*;
use crate::application::tests::{data_plane, server_input, service, workspace};
use crate::application::{Caller, RegisterDataPlaneInput};

const ISSUER: &str = "https://gw.example/";
const UPSTREAM: &str = "https://mcp.example.com/mcp";

struct Fixture {
    service: Service,
    data_plane: DataPlaneRow,
    workspace: WorkspaceId,
    server: ServerId,
}

async fn data_plane_row(service: &Service, input: RegisterDataPlaneInput) -> DataPlaneRow {
    let registered = service
        .register_data_plane(&Caller::System, input)
        .await
        .unwrap();
    service
        .authenticate_data_plane(&registered.token.token)
        .await
        .unwrap()
}

async fn fixture(forwarding: IdentityForwarding) -> Fixture {
    let service = service().await;
    let workspace = workspace(&service, "acme").await;
    let mut input = server_input(&workspace, "github");
    input.identity_forwarding = forwarding;
    let server = service
        .register_server(&Caller::System, input)
        .await
        .unwrap()
        .id;
    let data_plane = data_plane_row(&service, data_plane()).await;
    Fixture {
        service,
        data_plane,
        workspace,
        server,
    }
}

fn jwt_mode() -> IdentityForwarding {
    IdentityForwarding::Jwt {
        header: IdentityForwarding::JWT_HEADER.into(),
        ttl_seconds: 300,
    }
}

impl Fixture {
    fn request(&self) -> UserAssertionInput {
        UserAssertionInput {
            issuer: ISSUER.into(),
            audience: UPSTREAM.into(),
            subject: "alice".into(),
            workspace_id: self.workspace,
            server_id: self.server,
            ttl_seconds: 120,
        }
    }
}

fn invalid_field(result: Result<SignedAssertion, ServiceError>) -> String {
    match result {
        Err(ServiceError::Domain(DomainError::Invalid { field, .. })) => field,
        other => panic!("refused as invalid, not {other:?}"),
    }
}

#[tokio::test]
async fn an_assertion_verifies_against_the_published_jwks_with_the_callers_claims() {
    let f = fixture(jwt_mode()).await;
    let signed = f
        .service
        .sign_user_assertion(&f.data_plane, f.request())
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&signed.jwt).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let jwks: JwkSet = serde_json::from_value(f.service.oauth_jwks().await.unwrap()).unwrap();
    let key = DecodingKey::from_jwk(jwks.find(&header.kid.unwrap()).unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[UPSTREAM]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<UserAssertionClaims>(&signed.jwt, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.mcpgw_workspace, f.workspace.to_string());
    assert_eq!(claims.mcpgw_server, f.server.to_string());
    assert_eq!(claims.exp - claims.iat, 120);
    assert_eq!(claims.exp, signed.expires_at.timestamp());
    assert!(!claims.jti.is_empty());
    let again = f
        .service
        .sign_user_assertion(&f.data_plane, f.request())
        .await
        .unwrap();
    assert_ne!(again.jwt, signed.jwt, "each assertion has its own jti");
}

#[tokio::test]
async fn a_data_plane_not_serving_the_workspace_is_refused() {
    let f = fixture(jwt_mode()).await;
    let other = workspace(&f.service, "other").await;
    let elsewhere = data_plane_row(
        &f.service,
        RegisterDataPlaneInput {
            name: "elsewhere".into(),
            workspaces: Some(vec![other.to_string()]),
        },
    )
    .await;
    let refused = f.service.sign_user_assertion(&elsewhere, f.request()).await;
    assert!(
        matches!(
            refused,
            Err(ServiceError::Domain(DomainError::NotFound {
                kind: "workspace",
                ..
            }))
        ),
        "{refused:?}"
    );
    // Nor for a workspace the server does not serve.
    let not_served = UserAssertionInput {
        workspace_id: other,
        ..f.request()
    };
    let refused = f
        .service
        .sign_user_assertion(&f.data_plane, not_served)
        .await;
    assert!(
        matches!(
            refused,
            Err(ServiceError::Domain(DomainError::NotFound {
                kind: "server",
                ..
            }))
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn only_the_servers_own_upstream_in_jwt_mode_gets_one_for_a_lifetime_in_bounds() {
    let f = fixture(jwt_mode()).await;
    let sign = |input: UserAssertionInput| f.service.sign_user_assertion(&f.data_plane, input);
    let other_audience = UserAssertionInput {
        audience: "https://evil.example/mcp".into(),
        ..f.request()
    };
    assert_eq!(invalid_field(sign(other_audience).await), "audience");
    let too_long = UserAssertionInput {
        ttl_seconds: 3601,
        ..f.request()
    };
    assert_eq!(invalid_field(sign(too_long).await), "ttl_seconds");
    let nobody = UserAssertionInput {
        subject: " ".into(),
        ..f.request()
    };
    assert_eq!(invalid_field(sign(nobody).await), "subject");
    let claims = fixture(IdentityForwarding::ClaimsHeader {
        header: IdentityForwarding::CLAIMS_HEADER.into(),
    })
    .await;
    assert_eq!(
        invalid_field(
            claims
                .service
                .sign_user_assertion(&claims.data_plane, claims.request())
                .await
        ),
        "server_id"
    );
}
