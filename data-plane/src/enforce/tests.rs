use std::time::Duration;

use mcpgw_shared::{ApiKeyId, ServerId};

use super::*;

#[tokio::test]
async fn closing_by_condition_ends_only_the_matching_streams() {
    let registry = StreamRegistry::new();
    let revoked = ApiKeyId::generate();
    let other = ApiKeyId::generate();
    let server = ServerId::new();
    let guard = registry.register(&revoked, &server, 1, false);
    let kept = registry.register(&other, &server, 1, false);
    assert_eq!(registry.close_where(|s| s.key == revoked), 1);
    tokio::time::timeout(Duration::from_secs(1), guard.closed())
        .await
        .expect("closed");
    assert!(
        tokio::time::timeout(Duration::from_millis(20), kept.closed())
            .await
            .is_err()
    );
    drop(guard);
    assert_eq!(registry.len(), 1, "a dropped guard deregisters");
}

#[tokio::test]
async fn announcements_reach_only_listening_streams_of_the_server() {
    let registry = StreamRegistry::new();
    let key = ApiKeyId::generate();
    let server = ServerId::new();
    let mut listening = registry.register(&key, &server, 1, true);
    let _response = registry.register(&key, &server, 1, false);
    let _elsewhere = registry.register(&key, &ServerId::new(), 1, true);
    assert_eq!(registry.announce(&server, TOOLS_LIST_CHANGED_EVENT), 1);
    let event = tokio::time::timeout(Duration::from_secs(1), listening.injected())
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&event).contains("notifications/tools/list_changed"));
    assert!(
        !String::from_utf8_lossy(&event).contains("id:"),
        "injected events carry no id"
    );
}

#[test]
fn a_key_may_hold_only_so_many_streams() {
    let registry = StreamRegistry::new();
    let key = ApiKeyId::generate();
    let server = ServerId::new();
    let first = registry.register(&key, &server, 1, true);
    let _second = registry.register(&key, &server, 1, false);
    assert!(registry.admit(&key, 3).is_ok());
    assert!(matches!(
        registry.admit(&key, 2),
        Err(crate::errors::GatewayError::TooManyStreams(2))
    ));
    assert!(registry.admit(&ApiKeyId::generate(), 2).is_ok(), "per key");
    drop(first);
    assert!(registry.admit(&key, 2).is_ok());
}

#[tokio::test]
async fn a_stream_of_a_caller_named_by_an_external_jwt_lasts_while_its_token_and_grant_do() {
    use chrono::{Duration as Span, Utc};
    use mcpgw_shared::model::{KeyType, Permission};

    let upstream = crate::testing::echo_upstream::spawn().await;
    let mut gw = crate::testing::harness::Harness::start().await;
    let server = gw.add_server("echo", &upstream);
    let registry = StreamRegistry::new();
    let record = |expires_at| crate::snapshot::KeyRecord {
        secret_hash: [0; 32],
        workspace: Some(gw.workspace),
        user: Some("ext-user".into()),
        expires_at: Some(expires_at),
        permissions: [Permission::McpInvoke].into_iter().collect(),
        key_type: KeyType::User,
        revoked: false,
    };
    let open = |record, grant| {
        registry.register_for(
            &ApiKeyId::generate(),
            record,
            grant,
            &server.id,
            server.connection_version,
            true,
        )
    };
    let live = open(Some(record(Utc::now() + Span::hours(1))), None);
    let expired = open(Some(record(Utc::now() - Span::seconds(1))), None);
    let unknown = open(None, None);
    // The gateway's own access tokens: the stream of a revoked grant closes.
    let revoked = mcpgw_shared::OAuthGrantId::new();
    let signed_out = open(Some(record(Utc::now() + Span::hours(1))), Some(revoked));
    let signed_in = open(
        Some(record(Utc::now() + Span::hours(1))),
        Some(mcpgw_shared::OAuthGrantId::new()),
    );
    gw.revoke_grant(revoked);
    sweep_withdrawn(&gw.store.load(), &registry);
    for (closed, what) in [
        (expired.closed(), "expired"),
        (unknown.closed(), "unknown"),
        (signed_out.closed(), "revoked grant's"),
    ] {
        tokio::time::timeout(Duration::from_secs(1), closed)
            .await
            .unwrap_or_else(|_| panic!("the {what} caller's stream closed"));
    }
    for (stream, what) in [(live, "live token's"), (signed_in, "unrevoked grant's")] {
        assert!(
            tokio::time::timeout(Duration::from_millis(50), stream.closed())
                .await
                .is_err(),
            "the {what} stream stays"
        );
    }
    gw.stop().await;
}
