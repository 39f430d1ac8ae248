use serde_json::json;

use super::*;

fn rules(extra: Value) -> JwtValidation<String> {
    let mut base = json!({"issuer": "https://idp.example", "jwks_uri": "https://idp.example/jwks"});
    if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
        base.extend(extra);
    }
    serde_json::from_value(base).expect("valid rules")
}

#[test]
fn introspection_is_read_with_its_secret_and_debug_never_shows_it() {
    let rules = rules(json!({"introspection": {
        "endpoint": "https://idp.example/introspect",
        "client_id": "gateway",
        "client_secret": "introspection-secret-marker"
    }}));
    let introspection = rules.introspection.as_ref().expect("introspection is read");
    assert_eq!(introspection.endpoint, "https://idp.example/introspect");
    assert_eq!(
        introspection.client_secret.as_deref(),
        Some("introspection-secret-marker")
    );
    assert!(!format!("{rules:?}").contains("introspection-secret-marker"));
}

#[test]
fn the_sync_json_carries_the_secret_and_reads_back() {
    let rules = rules(json!({"introspection": {
        "endpoint": "https://idp.example/introspect",
        "client_id": "gateway",
        "client_secret": "s3cret"
    }}))
    .try_map_secret(|s, path| {
        assert_eq!(path, INTROSPECTION_SECRET_PATH);
        Ok::<_, std::convert::Infallible>(Redacted::new(s))
    })
    .unwrap();
    let json = rules.to_json_with_secret();
    assert!(json.contains("s3cret"));
    assert_eq!(JwtValidation::from_json_with_secret(&json).unwrap(), rules);
}

#[test]
fn an_unknown_field_in_introspection_is_refused() {
    let refused = serde_json::from_value::<JwtValidation<String>>(json!({
        "issuer": "https://idp.example",
        "introspection": {"endpoint": "https://idp.example/i", "client_id": "g", "secret": "x"}
    }));
    assert!(refused.is_err());
}

#[test]
fn without_permissions_a_token_gets_mcp_invoke() {
    assert_eq!(
        rules(json!({})).permissions_for(&json!({"sub": "a"})),
        [Permission::McpInvoke]
    );
}

#[test]
fn with_permissions_a_token_gets_exactly_those_whose_rules_match() {
    let rules = rules(json!({"permissions": {
        "mcp.invoke": {"groups": ["mcp-users", "admins"]},
        "admin": {"groups": "admins", "scope": "gateway.admin"}
    }}));
    assert_eq!(
        rules.permissions_for(&json!({"groups": ["mcp-users"]})),
        [Permission::McpInvoke]
    );
    assert_eq!(
        rules.permissions_for(&json!({"groups": ["admins"], "scope": "openid gateway.admin"})),
        [Permission::Admin, Permission::McpInvoke]
    );
    assert!(
        rules
            .permissions_for(&json!({"groups": "others"}))
            .is_empty()
    );
}

#[test]
fn a_permission_that_does_not_exist_is_named_with_its_field() {
    let rules = rules(json!({"permissions": {"mcp.everything": {"sub": "a"}}}));
    let (field, message) = rules.unknown_permission().expect("refused");
    assert_eq!(field, "jwt_validation.permissions.mcp.everything");
    assert!(message.contains("mcp.invoke"), "{message}");
    assert!(
        self::rules(json!({"permissions": {"mcp.invoke": {}}}))
            .unknown_permission()
            .is_none()
    );
}

#[test]
fn an_empty_or_overlong_introspection_secret_is_refused() {
    let with_secret = |secret: &str| {
        rules(json!({"introspection": {
            "endpoint": "https://idp.example/introspect",
            "client_id": "gateway",
            "client_secret": secret
        }}))
    };
    assert!(with_secret("s").validate_secret().is_ok());
    assert_eq!(
        with_secret("").validate_secret().unwrap_err().0,
        INTROSPECTION_SECRET_PATH
    );
    assert!(with_secret(&"x".repeat(5000)).validate_secret().is_err());
}

#[test]
fn the_rules_are_shown_with_client_secret_set_never_the_secret() {
    let with = rules(json!({"introspection": {
        "endpoint": "https://idp.example/introspect",
        "client_id": "gateway",
        "client_secret": "introspection-secret-marker"
    }}));
    let shown = with.shown();
    assert_eq!(shown["introspection"]["client_secret_set"], json!(true));
    assert_eq!(shown["introspection"]["client_id"], json!("gateway"));
    assert!(!shown.to_string().contains("introspection-secret-marker"));
    assert_eq!(shown["issuer"], json!("https://idp.example"));
    assert!(rules(json!({})).shown().get("introspection").is_none());
}
