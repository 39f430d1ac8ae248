//! The authorization server on an in-memory SQLite database, as data planes and
//! administrators use it: codes redeemed once with PKCE, refresh tokens rotated with reuse
//! detection, revocation, introspection, signing keys rotated and sealed, clients revoked.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mcpgw_shared::{ServerId, WorkspaceId};

use super::signing::AccessClaims;
use super::*;
use crate::application::tests::{admin_of, data_plane, server_input, service, workspace};
use crate::application::{Caller, RegisterDataPlaneInput, RevokeGrantsInput, SyncState};
use crate::domain::oauth_grant::{TokenError, TokenRefusal};
use crate::store::read_models::GrantFilter;

/// RFC 7636's example verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1:53682/callback";
const RESOURCE: &str = "https://gw.example/github/mcp";
const ISSUER: &str = "https://gw.example";

/// A workspace with a server, a data plane serving every workspace, and a public client.
#[derive(Clone)]
struct Fixture {
    service: Service,
    data_plane: DataPlaneRow,
    workspace: WorkspaceId,
    server: ServerId,
    client: String,
}

async fn fixture() -> Fixture {
    let service = service().await;
    let workspace = workspace(&service, "acme").await;
    let server = service
        .register_server(&Caller::System, server_input(&workspace, "github"))
        .await
        .unwrap()
        .id;
    let registered = service
        .register_data_plane(&Caller::System, data_plane())
        .await
        .unwrap();
    let data_plane = service
        .authenticate_data_plane(&registered.token.token)
        .await
        .unwrap();
    let client = service
        .register_oauth_client(
            &data_plane,
            RegisterClientInput {
                client_name: "Claude".into(),
                // Registered without a port: a loopback redirect matches on any port.
                redirect_uris: vec!["http://127.0.0.1/callback".into()],
                ..RegisterClientInput::default()
            },
        )
        .await
        .unwrap()
        .client
        .id
        .to_string();
    Fixture {
        service,
        data_plane,
        workspace,
        server,
        client,
    }
}

impl Fixture {
    fn consent(&self) -> IssueCodeInput {
        IssueCodeInput {
            client_id: self.client.clone(),
            user_id: "alice".into(),
            workspace_id: self.workspace,
            server_id: self.server,
            resource: RESOURCE.into(),
            scope: "mcp:tools:list mcp:tools:call".into(),
            redirect_uri: REDIRECT.into(),
            code_challenge: CHALLENGE.into(),
            issuer: ISSUER.into(),
        }
    }

    async fn code(&self) -> IssuedCode {
        self.service
            .issue_oauth_code(&self.data_plane, self.consent())
            .await
            .unwrap()
    }

    fn client(&self) -> ClientCredentials {
        ClientCredentials {
            client_id: self.client.clone(),
            client_secret: None,
        }
    }

    fn redeem(&self, code: &str) -> TokenInput {
        TokenInput {
            grant_type: "authorization_code".into(),
            code: code.into(),
            code_verifier: VERIFIER.into(),
            redirect_uri: REDIRECT.into(),
            client: self.client(),
            ..TokenInput::default()
        }
    }

    fn refresh(&self, refresh_token: &str) -> TokenInput {
        TokenInput {
            grant_type: "refresh_token".into(),
            refresh_token: refresh_token.into(),
            client: self.client(),
            ..TokenInput::default()
        }
    }

    async fn exchange(&self, input: TokenInput) -> Result<IssuedTokens, ServiceError> {
        self.service
            .exchange_oauth_token(&self.data_plane, input)
            .await
    }

    /// Tokens for a fresh grant.
    async fn tokens(&self) -> (IssuedCode, IssuedTokens) {
        let code = self.code().await;
        let tokens = self.exchange(self.redeem(&code.code)).await.unwrap();
        (code, tokens)
    }

    async fn grant_state(&self, id: &OAuthGrantId) -> String {
        let grants = self
            .service
            .oauth_grants(&Caller::System, GrantFilter::default())
            .await
            .unwrap();
        grants
            .into_iter()
            .find(|g| g.id == *id)
            .map(|g| g.state)
            .unwrap()
    }

    /// The claims of `token` as a data plane verifies it: against the published JWKS.
    async fn verify(&self, token: &str) -> Option<AccessClaims> {
        let jwks: JwkSet =
            serde_json::from_value(self.service.oauth_jwks().await.unwrap()).unwrap();
        let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
        let key = DecodingKey::from_jwk(jwks.find(&kid)?).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&[RESOURCE]);
        validation.set_issuer(&[ISSUER]);
        jsonwebtoken::decode(token, &key, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

fn refused(result: Result<impl std::fmt::Debug, ServiceError>) -> TokenRefusal {
    match result {
        Err(ServiceError::Domain(DomainError::Refused(refusal))) => refusal,
        other => panic!("a refusal, not {other:?}"),
    }
}

#[tokio::test]
async fn a_code_is_redeemed_once_with_its_verifier_and_a_second_redemption_revokes_the_grant() {
    let f = fixture().await;
    let code = f.code().await;
    assert!(
        code.code
            .starts_with(&format!("mcpgw_ac_{}_", code.grant_id.as_uuid().simple()))
    );
    assert_eq!(code.expires_in, 60);

    let wrong_verifier = TokenInput {
        code_verifier: "x".repeat(43),
        ..f.redeem(&code.code)
    };
    assert_eq!(
        refused(f.exchange(wrong_verifier).await).error,
        TokenError::InvalidGrant
    );
    let wrong_redirect = TokenInput {
        redirect_uri: "http://127.0.0.1:1/callback".into(),
        ..f.redeem(&code.code)
    };
    assert_eq!(
        refused(f.exchange(wrong_redirect).await).error,
        TokenError::InvalidGrant
    );
    let wrong_resource = TokenInput {
        resource: "https://gw.example/other/mcp".into(),
        ..f.redeem(&code.code)
    };
    assert_eq!(
        refused(f.exchange(wrong_resource).await).error,
        TokenError::InvalidTarget
    );
    assert_eq!(
        f.grant_state(&code.grant_id).await,
        "issued",
        "refusals revoke nothing"
    );

    let tokens = f.exchange(f.redeem(&code.code)).await.unwrap();
    assert_eq!(tokens.expires_in, 600);
    assert_eq!(tokens.scope, "mcp:tools:list mcp:tools:call");
    assert!(tokens.refresh_token.starts_with("mcpgw_rt_"));
    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let claims = f.verify(&tokens.access_token).await.expect("a valid token");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.client_id, f.client);
    assert_eq!(claims.mcpgw_workspace, f.workspace.to_string());
    assert_eq!(claims.mcpgw_grant, code.grant_id.to_string());
    assert_eq!(claims.exp - claims.iat, 600);
    assert_eq!(f.grant_state(&code.grant_id).await, "active");

    let again = refused(f.exchange(f.redeem(&code.code)).await);
    assert_eq!(again.error, TokenError::InvalidGrant);
    assert!(again.description.contains("already used"), "{again}");
    assert_eq!(f.grant_state(&code.grant_id).await, "revoked");
    let refresh = refused(f.exchange(f.refresh(&tokens.refresh_token)).await);
    assert_eq!(refresh.error, TokenError::InvalidGrant);
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_a_reused_one_revokes_the_family() {
    let f = fixture().await;
    let (code, first) = f.tokens().await;
    let second = f.exchange(f.refresh(&first.refresh_token)).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert!(
        second.refresh_token.contains("_2_"),
        "generation 2: {}",
        second.refresh_token
    );
    let narrower = TokenInput {
        scope: "mcp:tools:list".into(),
        ..f.refresh(&second.refresh_token)
    };
    let third = f.exchange(narrower).await.unwrap();
    assert_eq!(third.scope, "mcp:tools:list");
    let wider = TokenInput {
        scope: "mcp:*".into(),
        ..f.refresh(&third.refresh_token)
    };
    assert_eq!(
        refused(f.exchange(wider).await).error,
        TokenError::InvalidScope
    );

    let reused = refused(f.exchange(f.refresh(&first.refresh_token)).await);
    assert_eq!(reused.error, TokenError::InvalidGrant);
    assert_eq!(f.grant_state(&code.grant_id).await, "revoked");
    let grants = f
        .service
        .oauth_grants(&Caller::System, GrantFilter::default())
        .await
        .unwrap();
    assert_eq!(
        grants[0].revoked_reason.as_deref(),
        Some("refresh token reuse")
    );
    let newest = refused(f.exchange(f.refresh(&third.refresh_token)).await);
    assert_eq!(
        newest.error,
        TokenError::InvalidGrant,
        "the whole family is revoked"
    );
}

#[tokio::test]
async fn another_grant_type_or_an_unknown_client_is_refused() {
    let f = fixture().await;
    let code = f.code().await;
    let password = TokenInput {
        grant_type: "password".into(),
        ..f.redeem(&code.code)
    };
    assert_eq!(
        refused(f.exchange(password).await).error,
        TokenError::UnsupportedGrantType
    );
    let stranger = TokenInput {
        client: ClientCredentials {
            client_id: OAuthClientId::new().to_string(),
            client_secret: None,
        },
        ..f.redeem(&code.code)
    };
    assert_eq!(
        refused(f.exchange(stranger).await).error,
        TokenError::InvalidClient
    );
}

#[tokio::test]
async fn a_confidential_client_must_present_its_secret() {
    let f = fixture().await;
    let registered = f
        .service
        .register_oauth_client(
            &f.data_plane,
            RegisterClientInput {
                redirect_uris: vec![REDIRECT.into()],
                token_endpoint_auth_method: "client_secret_basic".into(),
                ..RegisterClientInput::default()
            },
        )
        .await
        .unwrap();
    let secret = registered
        .client_secret
        .expect("a confidential client gets a secret");
    let client_id = registered.client.id.to_string();
    let consent = IssueCodeInput {
        client_id: client_id.clone(),
        ..f.consent()
    };
    let code = f
        .service
        .issue_oauth_code(&f.data_plane, consent)
        .await
        .unwrap();
    let with = |client_secret: Option<&str>| TokenInput {
        client: ClientCredentials {
            client_id: client_id.clone(),
            client_secret: client_secret.map(str::to_owned),
        },
        ..f.redeem(&code.code)
    };
    assert_eq!(
        refused(f.exchange(with(None)).await).error,
        TokenError::InvalidClient
    );
    assert_eq!(
        refused(f.exchange(with(Some("wrong"))).await).error,
        TokenError::InvalidClient
    );
    assert!(f.exchange(with(Some(&secret))).await.is_ok());
}

#[tokio::test]
async fn issuing_a_code_checks_the_workspace_the_server_the_client_and_its_redirect() {
    let f = fixture().await;
    let other = workspace(&f.service, "other").await;
    let elsewhere = IssueCodeInput {
        workspace_id: other,
        ..f.consent()
    };
    let refused = f.service.issue_oauth_code(&f.data_plane, elsewhere).await;
    assert!(matches!(
        refused,
        Err(ServiceError::Domain(DomainError::NotFound {
            kind: "server",
            ..
        }))
    ));
    let field_of = |result: Result<IssuedCode, ServiceError>| match result {
        Err(ServiceError::Domain(DomainError::Invalid { field, .. })) => field,
        other => panic!("refused, not {other:?}"),
    };
    let unregistered = IssueCodeInput {
        redirect_uri: "https://evil.example/cb".into(),
        ..f.consent()
    };
    assert_eq!(
        field_of(
            f.service
                .issue_oauth_code(&f.data_plane, unregistered)
                .await
        ),
        "redirect_uri"
    );
    let bad_scope = IssueCodeInput {
        scope: "admin".into(),
        ..f.consent()
    };
    assert_eq!(
        field_of(f.service.issue_oauth_code(&f.data_plane, bad_scope).await),
        "scope"
    );
    let bad_challenge = IssueCodeInput {
        code_challenge: "plain".into(),
        ..f.consent()
    };
    assert_eq!(
        field_of(
            f.service
                .issue_oauth_code(&f.data_plane, bad_challenge)
                .await
        ),
        "code_challenge"
    );
    let metadata_document = IssueCodeInput {
        client_id: "https://client.example/oauth/metadata.json".into(),
        redirect_uri: "https://client.example/cb".into(),
        ..f.consent()
    };
    assert!(
        f.service
            .issue_oauth_code(&f.data_plane, metadata_document)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_client_revokes_its_own_grants_and_another_clients_revocation_changes_nothing() {
    let f = fixture().await;
    let (code, tokens) = f.tokens().await;
    let stranger = ClientCredentials {
        client_id: "https://other.example/metadata.json".into(),
        client_secret: None,
    };
    let ignored = f
        .service
        .revoke_oauth_token(&f.data_plane, &tokens.access_token, &stranger)
        .await
        .unwrap();
    assert_eq!(ignored, None);
    let unknown = f
        .service
        .revoke_oauth_token(&f.data_plane, "mcpgw_rt_nonsense", &f.client())
        .await
        .unwrap();
    assert_eq!(unknown, None, "an unknown token is no error (RFC 7009)");
    assert_eq!(f.grant_state(&code.grant_id).await, "active");

    let revoked = f
        .service
        .revoke_oauth_token(&f.data_plane, &tokens.access_token, &f.client())
        .await
        .unwrap();
    assert_eq!(revoked, Some(code.grant_id));
    assert_eq!(f.grant_state(&code.grant_id).await, "revoked");
    assert!(f.exchange(f.refresh(&tokens.refresh_token)).await.is_err());
}

#[tokio::test]
async fn introspection_describes_active_tokens_to_their_client_only() {
    let f = fixture().await;
    let (_, tokens) = f.tokens().await;
    let describe = |token: String, client: ClientCredentials| {
        let f = &f;
        async move {
            f.service
                .introspect_oauth_token(&f.data_plane, &token, &client)
                .await
                .unwrap()
        }
    };
    let access = describe(tokens.access_token.clone(), f.client()).await;
    assert_eq!(access["active"], true);
    assert_eq!(access["token_type"], "Bearer");
    assert_eq!(access["sub"], "alice");
    assert_eq!(access["aud"], RESOURCE);
    assert_eq!(access["iss"], ISSUER);
    assert_eq!(access["client_id"], f.client.as_str());
    assert_eq!(access["mcpgw_workspace"], f.workspace.to_string());
    let refresh = describe(tokens.refresh_token.clone(), f.client()).await;
    assert_eq!(refresh["active"], true);
    assert_eq!(refresh["token_type"], "refresh_token");
    assert_eq!(refresh["scope"], "mcp:tools:list mcp:tools:call");

    let stranger = ClientCredentials {
        client_id: "https://other.example/metadata.json".into(),
        client_secret: None,
    };
    let foreign = describe(tokens.access_token.clone(), stranger).await;
    assert_eq!(foreign, serde_json::json!({ "active": false }));
    let garbage = describe("not-a-token".into(), f.client()).await;
    assert_eq!(garbage, serde_json::json!({ "active": false }));

    let rotated = f.exchange(f.refresh(&tokens.refresh_token)).await.unwrap();
    let replaced = describe(tokens.refresh_token.clone(), f.client()).await;
    assert_eq!(
        replaced["active"], false,
        "a replaced refresh token is not active"
    );
    assert_eq!(
        describe(rotated.refresh_token, f.client()).await["active"],
        true
    );
}

#[tokio::test]
async fn a_rotation_keeps_the_previous_key_in_the_jwks_and_retires_older_ones() {
    let f = fixture().await;
    let (_, tokens) = f.tokens().await;
    let kids = |jwks: serde_json::Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = kids(f.service.oauth_jwks().await.unwrap());
    assert_eq!(first.len(), 1, "one key, made on first need");

    let second = f.service.rotate_signing_key(&Caller::System).await.unwrap();
    let after_one = kids(f.service.oauth_jwks().await.unwrap());
    assert_eq!(after_one, vec![second.kid.clone(), first[0].clone()]);
    assert!(
        f.verify(&tokens.access_token).await.is_some(),
        "earlier tokens still verify"
    );
    let (_, newer) = f.tokens().await;
    let header = jsonwebtoken::decode_header(&newer.access_token).unwrap();
    assert_eq!(header.kid, Some(second.kid.clone()), "the newest key signs");

    let third = f.service.rotate_signing_key(&Caller::System).await.unwrap();
    let after_two = kids(f.service.oauth_jwks().await.unwrap());
    assert_eq!(after_two, vec![third.kid, second.kid]);
    let all = f.service.signing_keys(&Caller::System).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all[2].retired_at.is_some(), "the first key is retired");
    assert!(
        f.service
            .signing_keys(&admin_of(f.workspace))
            .await
            .is_err(),
        "keys are for global admins"
    );
}

#[tokio::test]
async fn an_old_signing_key_is_replaced_when_it_is_needed() {
    let f = fixture().await;
    let first = f.service.current_signing_key().await.unwrap();
    let aged = Fixture {
        service: f
            .service
            .clone()
            .with_authorization_settings(AuthorizationSettings {
                access_token_ttl: Duration::from_secs(5),
                signing_key_rotation: Duration::from_secs(0),
            }),
        ..f.clone()
    };
    let (_, tokens) = aged.tokens().await;
    assert_eq!(tokens.expires_in, 5);
    let kid = jsonwebtoken::decode_header(&tokens.access_token)
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(
        kid, first.kid,
        "a key older than the rotation period is replaced"
    );
}

#[tokio::test]
async fn the_private_key_is_recorded_sealed_never_in_plain_text() {
    let f = fixture().await;
    f.tokens().await;
    let key = f.service.current_signing_key().await.unwrap();
    let events = f.service.db.load_stream(&key.id.stream()).await.unwrap();
    let payload = events[0].event.payload().to_string();
    assert!(!payload.contains("PRIVATE KEY"), "{payload}");
    assert!(payload.contains("\"sealed_private\""), "{payload}");
    assert!(key.public_jwk.get("d").is_none());
    let listed = f.service.signing_keys(&Caller::System).await.unwrap();
    assert!(
        format!("{listed:?}").find("sealed").is_none(),
        "Debug hides the sealed key"
    );
}

#[tokio::test]
async fn revoking_a_client_revokes_its_grants_and_its_tokens_no_longer_refresh() {
    let f = fixture().await;
    let (first, tokens) = f.tokens().await;
    let (second, _) = f.tokens().await;
    let client: OAuthClientId = f.client.parse().unwrap();
    f.service
        .revoke_oauth_client(&Caller::System, &client)
        .await
        .unwrap();
    for grant in [first.grant_id, second.grant_id] {
        assert_eq!(f.grant_state(&grant).await, "revoked");
    }
    let grants = f
        .service
        .oauth_grants(&Caller::System, GrantFilter::default())
        .await
        .unwrap();
    assert!(
        grants
            .iter()
            .all(|g| g.revoked_reason.as_deref() == Some("client revoked"))
    );
    let refusal = refused(f.exchange(f.refresh(&tokens.refresh_token)).await);
    assert_eq!(refusal.error, TokenError::InvalidClient);
    let clients = f.service.oauth_clients(&Caller::System).await.unwrap();
    assert!(clients[0].revoked);
    assert!(
        f.service.oauth_client(&f.client).await.is_err(),
        "GetClient: not found"
    );
}

#[tokio::test]
async fn a_workspace_admin_sees_and_revokes_only_its_workspaces_grants() {
    let f = fixture().await;
    let (mine, _) = f.tokens().await;
    let stranger = admin_of(WorkspaceId::new());
    let seen = f
        .service
        .oauth_grants(&stranger, GrantFilter::default())
        .await
        .unwrap();
    assert!(seen.is_empty());
    assert!(
        f.service
            .revoke_oauth_grant(&stranger, &mine.grant_id)
            .await
            .is_err()
    );
    let everyone = RevokeGrantsInput {
        user_id: Some("alice".into()),
        client_id: None,
    };
    assert_eq!(
        f.service
            .revoke_oauth_grants(&stranger, &everyone)
            .await
            .unwrap(),
        0
    );

    let owner = admin_of(f.workspace);
    assert_eq!(
        f.service
            .oauth_grants(&owner, GrantFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        f.service
            .revoke_oauth_grants(&owner, &everyone)
            .await
            .unwrap(),
        1
    );
    assert_eq!(f.grant_state(&mine.grant_id).await, "revoked");
    let nothing = RevokeGrantsInput::default();
    assert!(
        f.service
            .revoke_oauth_grants(&owner, &nothing)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_revoked_grant_reaches_the_data_planes_of_its_workspace_and_no_other_grant_does() {
    let f = fixture().await;
    let elsewhere = workspace(&f.service, "elsewhere").await;
    let registered = f
        .service
        .register_data_plane(
            &Caller::System,
            RegisterDataPlaneInput {
                name: "elsewhere".into(),
                workspaces: Some(vec![elsewhere.to_string()]),
            },
        )
        .await
        .unwrap();
    let stranger = f
        .service
        .authenticate_data_plane(&registered.token.token)
        .await
        .unwrap();
    let start = f.service.sync_snapshot(&f.data_plane).await.unwrap().seq;

    // Issuing, redeeming and refreshing send data planes nothing.
    let (code, tokens) = f.tokens().await;
    f.exchange(f.refresh(&tokens.refresh_token)).await.unwrap();
    let (head, entities) = f.service.sync_changes(&f.data_plane, start).await.unwrap();
    assert!(head > start);
    assert!(entities.is_empty(), "{entities:?}");

    // A revocation reaches the data planes of the grant's workspace, in changes and snapshots,
    // for as long as the access tokens issued before it may live.
    let before = chrono::Utc::now();
    f.service
        .revoke_oauth_grant(&Caller::System, &code.grant_id)
        .await
        .unwrap();
    let (_, entities) = f.service.sync_changes(&f.data_plane, head).await.unwrap();
    let [entity] = &entities[..] else {
        panic!("one change: {entities:?}")
    };
    let SyncState::RevokedGrant(revoked) = &entity.state else {
        panic!("a revoked grant: {entity:?}")
    };
    assert_eq!(revoked.id, code.grant_id);
    assert_eq!(revoked.workspace_id, f.workspace);
    let ttl =
        chrono::TimeDelta::from_std(AuthorizationSettings::default().access_token_ttl).unwrap();
    assert!(revoked.live_until >= before + ttl, "{revoked:?}");
    assert!(
        revoked.live_until <= chrono::Utc::now() + ttl + chrono::TimeDelta::seconds(60),
        "{revoked:?}"
    );
    let snapshot = f.service.sync_snapshot(&f.data_plane).await.unwrap();
    assert_eq!(snapshot.revoked_grants, vec![*revoked]);

    // A data plane of another workspace hears nothing of it.
    let (_, entities) = f.service.sync_changes(&stranger, start).await.unwrap();
    assert!(entities.is_empty(), "{entities:?}");
    let snapshot = f.service.sync_snapshot(&stranger).await.unwrap();
    assert!(snapshot.revoked_grants.is_empty());
}
