//! Tests of `oauth_grant`: given these events, when this command, then these events or that
//! refusal.

use chrono::Duration;

use super::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CODE: [u8; 32] = [1; 32];

/// The time the tests decide at.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn issued_grant() -> IssuedGrant {
    IssuedGrant {
        client_id: "client-1".into(),
        user_id: "alice".into(),
        workspace_id: WorkspaceId::new(),
        server_id: ServerId::new(),
        resource: "https://gw.example/github/mcp".into(),
        scope: "mcp:tools:list mcp:tools:call".into(),
        redirect_uri: "https://client.example/cb".into(),
        code_challenge: CHALLENGE.into(),
        code_sha256: CODE,
        code_expires_at: now() + Duration::seconds(60),
        issuer: "https://gw.example".into(),
    }
}

fn refresh_token(hash: u8, generation: u32) -> RefreshIssued {
    RefreshIssued {
        refresh_sha256: [hash; 32],
        generation,
        refresh_expires_at: now() + Duration::days(30),
    }
}

fn redemption() -> Redemption {
    Redemption {
        code_sha256: CODE,
        client_id: "client-1".into(),
        redirect_uri: "https://client.example/cb".into(),
        code_verifier: VERIFIER.into(),
        resource: String::new(),
        next: refresh_token(10, 1),
        now: now(),
    }
}

fn refresh(presented: u8, next: RefreshIssued) -> Refresh {
    Refresh {
        refresh_sha256: [presented; 32],
        client_id: "client-1".into(),
        scope: String::new(),
        next,
        now: now(),
    }
}

fn when(
    state: &OAuthGrant,
    command: OAuthGrantCommand,
) -> Result<Vec<OAuthGrantEvent>, DomainError> {
    state
        .decide(&OAuthGrantId::new(), command)
        .map(|decision| decision.events)
}

fn given(events: &[OAuthGrantEvent]) -> OAuthGrant {
    OAuthGrant::from_events(events)
}

fn issued() -> OAuthGrant {
    given(&[OAuthGrantEvent::Issued(issued_grant())])
}

/// The grant after its code was redeemed (refresh generation 1, hash 10).
fn active() -> OAuthGrant {
    given(&[
        OAuthGrantEvent::Issued(issued_grant()),
        OAuthGrantEvent::CodeRedeemed(refresh_token(10, 1)),
    ])
}

fn refused(result: Result<Vec<OAuthGrantEvent>, DomainError>) -> TokenRefusal {
    match result {
        Err(DomainError::Refused(refusal)) => refusal,
        other => panic!("a refusal, not {other:?}"),
    }
}

#[test]
fn issuing_checks_the_user_the_scope_and_the_pkce_challenge() {
    assert!(
        when(
            &OAuthGrant::default(),
            OAuthGrantCommand::Issue(issued_grant())
        )
        .is_ok()
    );
    for (grant, field) in [
        (
            IssuedGrant {
                user_id: String::new(),
                ..issued_grant()
            },
            "user_id",
        ),
        (
            IssuedGrant {
                scope: "openid".into(),
                ..issued_grant()
            },
            "scope",
        ),
        (
            IssuedGrant {
                scope: String::new(),
                ..issued_grant()
            },
            "scope",
        ),
        (
            IssuedGrant {
                code_challenge: "short".into(),
                ..issued_grant()
            },
            "code_challenge",
        ),
    ] {
        let result = when(&OAuthGrant::default(), OAuthGrantCommand::Issue(grant));
        assert!(
            matches!(&result, Err(DomainError::Invalid { field: f, .. }) if f == field),
            "{field}: {result:?}"
        );
    }
}

#[test]
fn a_code_with_the_right_verifier_is_redeemed_for_the_first_refresh_token() {
    let events = when(&issued(), OAuthGrantCommand::Redeem(redemption())).unwrap();
    assert_eq!(
        events,
        vec![OAuthGrantEvent::CodeRedeemed(refresh_token(10, 1))]
    );
}

#[test]
fn a_wrong_verifier_redirect_client_or_resource_is_refused_without_revoking() {
    let cases = [
        (
            Redemption {
                code_verifier: "x".repeat(43),
                ..redemption()
            },
            TokenError::InvalidGrant,
        ),
        (
            Redemption {
                code_verifier: "short".into(),
                ..redemption()
            },
            TokenError::InvalidGrant,
        ),
        (
            Redemption {
                redirect_uri: "https://client.example/other".into(),
                ..redemption()
            },
            TokenError::InvalidGrant,
        ),
        (
            Redemption {
                client_id: "client-2".into(),
                ..redemption()
            },
            TokenError::InvalidGrant,
        ),
        (
            Redemption {
                resource: "https://gw.example/other/mcp".into(),
                ..redemption()
            },
            TokenError::InvalidTarget,
        ),
        (
            Redemption {
                now: now() + Duration::seconds(61),
                ..redemption()
            },
            TokenError::InvalidGrant,
        ),
        (
            Redemption {
                code_sha256: [2; 32],
                ..redemption()
            },
            TokenError::InvalidGrant,
        ),
    ];
    for (redemption, error) in cases {
        let refusal = refused(when(&issued(), OAuthGrantCommand::Redeem(redemption)));
        assert_eq!(refusal.error, error, "{refusal}");
    }
}

#[test]
fn a_code_presented_twice_revokes_the_grant_and_then_is_refused() {
    let events = when(&active(), OAuthGrantCommand::Redeem(redemption())).unwrap();
    assert_eq!(
        events,
        vec![OAuthGrantEvent::Revoked {
            reason: CODE_REUSE.into()
        }]
    );
    let mut revoked = active();
    revoked.apply(&events[0]);
    let refusal = refused(when(&revoked, OAuthGrantCommand::Redeem(redemption())));
    assert!(refusal.description.contains("already used"), "{refusal}");
}

#[test]
fn a_refresh_rotates_to_the_next_generation() {
    let events = when(
        &active(),
        OAuthGrantCommand::Refresh(refresh(10, refresh_token(11, 2))),
    )
    .unwrap();
    assert_eq!(
        events,
        vec![OAuthGrantEvent::RefreshRotated(refresh_token(11, 2))]
    );
    let mut rotated = active();
    rotated.apply(&events[0]);
    assert!(rotated.is_current_refresh(&[11; 32]));
    assert!(rotated.is_earlier_refresh(&[10; 32]));
}

#[test]
fn an_earlier_generation_revokes_the_family() {
    let rotated = given(&[
        OAuthGrantEvent::Issued(issued_grant()),
        OAuthGrantEvent::CodeRedeemed(refresh_token(10, 1)),
        OAuthGrantEvent::RefreshRotated(refresh_token(11, 2)),
    ]);
    let events = when(
        &rotated,
        OAuthGrantCommand::Refresh(refresh(10, refresh_token(12, 3))),
    )
    .unwrap();
    assert_eq!(
        events,
        vec![OAuthGrantEvent::Revoked {
            reason: REFRESH_REUSE.into()
        }]
    );
}

#[test]
fn an_unknown_refresh_token_is_refused_without_revoking() {
    let refusal = refused(when(
        &active(),
        OAuthGrantCommand::Refresh(refresh(99, refresh_token(11, 2))),
    ));
    assert_eq!(refusal.error, TokenError::InvalidGrant);
}

#[test]
fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
    let narrower = Refresh {
        scope: "mcp:tools:list".into(),
        ..refresh(10, refresh_token(11, 2))
    };
    assert!(when(&active(), OAuthGrantCommand::Refresh(narrower)).is_ok());
    let wider = Refresh {
        scope: "mcp:*".into(),
        ..refresh(10, refresh_token(11, 2))
    };
    let refusal = refused(when(&active(), OAuthGrantCommand::Refresh(wider)));
    assert_eq!(refusal.error, TokenError::InvalidScope);
}

#[test]
fn an_expired_refresh_token_or_a_concurrent_rotation_is_refused() {
    let late = Refresh {
        now: now() + Duration::days(31),
        ..refresh(10, refresh_token(11, 2))
    };
    assert_eq!(
        refused(when(&active(), OAuthGrantCommand::Refresh(late))).error,
        TokenError::InvalidGrant
    );
    let skipped = refresh(10, refresh_token(11, 3));
    assert_eq!(
        refused(when(&active(), OAuthGrantCommand::Refresh(skipped))).error,
        TokenError::InvalidGrant
    );
}

#[test]
fn a_revoked_grant_refuses_refreshes_and_is_revoked_once() {
    let revoke = || OAuthGrantCommand::Revoke {
        reason: "client revoked".into(),
    };
    let mut grant = active();
    let events = when(&grant, revoke()).unwrap();
    grant.apply(&events[0]);
    assert!(grant.active().is_none());
    assert_eq!(when(&grant, revoke()).unwrap(), vec![]);
    let refusal = refused(when(
        &grant,
        OAuthGrantCommand::Refresh(refresh(10, refresh_token(11, 2))),
    ));
    assert!(refusal.description.contains("client revoked"), "{refusal}");
    assert!(matches!(
        when(&OAuthGrant::default(), revoke()),
        Err(DomainError::NotFound { .. })
    ));
}
