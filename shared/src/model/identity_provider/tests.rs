//! Tests of `identity_provider`.

use super::*;

fn parse(json: &str) -> IdentityProvider<String> {
    serde_json::from_str(json).unwrap()
}

fn minimal() -> IdentityProvider<String> {
    parse(r#"{"issuer": "https://idp.example.com", "client_id": "gateway"}"#)
}

#[test]
fn an_issuer_and_a_client_id_are_enough_and_the_rest_has_defaults() {
    let provider = minimal();
    assert_eq!(provider.scopes, "openid email profile");
    assert_eq!(provider.user_claim, "email");
    assert_eq!(provider.client_secret, None);
    assert!(provider.allowed_email_domains.is_empty() && provider.required_claims.is_empty());
    assert_eq!(provider.validate(), Ok(()));
    assert!(
        serde_json::from_str::<IdentityProvider<String>>(
            r#"{"issuer": "https://idp.example.com", "client_id": "g", "client_secrte": "x"}"#
        )
        .is_err(),
        "unknown fields are refused"
    );
}

#[test]
fn each_invalid_field_is_named() {
    let cases: [(&str, &str); 12] = [
        (r#""issuer": "idp.example.com""#, "identity_provider.issuer"),
        (
            r#""issuer": "http://idp.example.com""#,
            "identity_provider.issuer",
        ),
        (
            r#""issuer": "https://idp.example.com/?tenant=1""#,
            "identity_provider.issuer",
        ),
        (
            r#""issuer": "https://u:p@idp.example.com""#,
            "identity_provider.issuer",
        ),
        (r#""client_id": """#, "identity_provider.client_id"),
        (r#""scopes": "email profile""#, "identity_provider.scopes"),
        (
            r#""scopes": "openid \"quoted\"""#,
            "identity_provider.scopes",
        ),
        (r#""user_claim": " ""#, "identity_provider.user_claim"),
        (
            r#""allowed_email_domains": ["example.com", "@example.org"]"#,
            "identity_provider.allowed_email_domains[1]",
        ),
        (
            r#""allowed_email_domains": ["https://example.com"]"#,
            "identity_provider.allowed_email_domains[0]",
        ),
        (
            r#""allowed_email_domains": ["a..example"]"#,
            "identity_provider.allowed_email_domains[0]",
        ),
        (r#""client_id": "x\u0001""#, "identity_provider.client_id"),
    ];
    for (field_json, field) in cases {
        let mut value: Value =
            serde_json::from_str(r#"{"issuer": "https://idp.example.com", "client_id": "g"}"#)
                .unwrap();
        let patch: Value = serde_json::from_str(&format!("{{{field_json}}}")).unwrap();
        for (k, v) in patch.as_object().unwrap() {
            value[k] = v.clone();
        }
        let provider: IdentityProvider<String> = serde_json::from_value(value).unwrap();
        let err = provider.validate().unwrap_err();
        assert_eq!(err.field, field, "{field_json}: {err}");
    }
    let long = IdentityProvider {
        client_id: "x".repeat(257),
        ..minimal()
    };
    assert_eq!(
        long.validate().unwrap_err().field,
        "identity_provider.client_id"
    );
}

#[test]
fn http_is_accepted_only_on_a_loopback_host() {
    for issuer in [
        "http://127.0.0.1:8080",
        "http://localhost:9000/realms/test",
        "http://[::1]:1234",
    ] {
        let provider = IdentityProvider {
            issuer: issuer.into(),
            ..minimal()
        };
        assert_eq!(provider.validate(), Ok(()), "{issuer}");
    }
}

#[test]
fn an_empty_secret_is_refused_naming_the_field() {
    let provider = IdentityProvider {
        client_secret: Some(String::new()),
        ..minimal()
    };
    assert_eq!(
        provider.validate_secret().unwrap_err().field,
        "identity_provider.client_secret"
    );
    let provider = IdentityProvider {
        client_secret: Some("s3cret".into()),
        ..minimal()
    };
    assert_eq!(provider.validate_secret(), Ok(()));
}

#[test]
fn debug_never_shows_the_secret_whatever_its_form() {
    let plain = IdentityProvider {
        client_secret: Some("idp-secret-marker".to_owned()),
        ..minimal()
    };
    let text = format!("{plain:?}");
    assert!(!text.contains("idp-secret-marker"), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    let held: IdentityProvider =
        IdentityProvider::from_json_with_secret(&serde_json::to_string(&plain).unwrap()).unwrap();
    assert!(!format!("{held:?}").contains("idp-secret-marker"));
}

#[test]
fn the_sync_json_carries_the_secret_and_reads_back_the_same() {
    let held: IdentityProvider = IdentityProvider {
        client_secret: Some(Redacted::new("idp-secret-marker".to_owned())),
        allowed_email_domains: vec!["example.com".into()],
        required_claims: BTreeMap::from([("groups".into(), serde_json::json!(["mcp-users"]))]),
        ..minimal()
            .try_map_secret(|s, _| Ok::<_, std::convert::Infallible>(Redacted::new(s)))
            .unwrap()
    };
    let json = held.to_json_with_secret();
    assert!(
        json.contains(r#""client_secret":"idp-secret-marker""#),
        "{json}"
    );
    assert_eq!(
        IdentityProvider::from_json_with_secret(&json).unwrap(),
        held
    );
}

#[test]
fn the_secret_is_mapped_with_its_path() {
    let mut seen = None;
    let mapped = IdentityProvider {
        client_secret: Some("s".to_owned()),
        ..minimal()
    }
    .try_map_secret(|s, path| {
        seen = Some(path.to_owned());
        Ok::<_, ()>(s.len())
    })
    .unwrap();
    assert_eq!(mapped.client_secret, Some(1));
    assert_eq!(seen.as_deref(), Some("identity_provider.client_secret"));
    assert!(mapped.same_client(&minimal()));
}
