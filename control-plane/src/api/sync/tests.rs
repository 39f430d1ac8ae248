//! Tests of the config-sync messages.

use mcpgw_shared::model::IdentityProvider;
use mcpgw_shared::{Redacted, WorkspaceId};

use super::*;

fn workspace(identity_provider: Option<IdentityProvider>) -> SyncWorkspace {
    SyncWorkspace {
        id: WorkspaceId::new(),
        name: "team".into(),
        tools: Default::default(),
        grants: Default::default(),
        rate_limits: vec![],
        jwt_validation: None,
        identity_provider,
    }
}

#[test]
fn a_workspace_identity_provider_is_sent_with_its_secret_and_reads_back_the_same() {
    let provider: IdentityProvider<String> = serde_json::from_value(serde_json::json!({
        "issuer": "https://idp.example.com",
        "client_id": "gateway",
        "client_secret": "idp-secret-marker-sync",
        "scopes": "openid email",
        "allowed_email_domains": ["example.com"],
        "required_claims": {"groups": ["mcp-users"]},
    }))
    .unwrap();
    let provider = provider
        .try_map_secret(|s, _| Ok::<_, std::convert::Infallible>(Redacted::new(s)))
        .unwrap();
    let message = workspace_message(&workspace(Some(provider.clone())));
    let json = message.identity_provider.expect("the provider is sent");
    assert!(json.contains("idp-secret-marker-sync"), "{json}");
    assert_eq!(
        IdentityProvider::from_json_with_secret(&json).unwrap(),
        provider
    );

    assert_eq!(workspace_message(&workspace(None)).identity_provider, None);
}
