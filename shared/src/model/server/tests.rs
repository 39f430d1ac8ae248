//! Tests of `server`.

use super::*;

#[test]
fn tool_filter_allow_and_deny() {
    let all = ToolFilter::default();
    assert!(all.permits("anything"));
    let filter = ToolFilter {
        allow: Some(vec!["a".into(), "b".into()]),
        deny: vec!["b".into()],
    };
    assert!(filter.permits("a"));
    assert!(!filter.permits("b"));
    assert!(!filter.permits("c"));
}

#[test]
fn auth_parses_each_type_and_rejects_unknown_fields() {
    let headers: UpstreamAuth<String> =
        serde_json::from_str(r#"{"type":"headers","headers":{"X-Api-Key":"v"}}"#).unwrap();
    assert_eq!(headers.type_name(), "headers");
    let oauth: UpstreamAuth<String> = serde_json::from_str(
        r#"{"type":"oauth2","oauth_metadata":{"issuer":"https://as","client_id":"c"}}"#,
    )
    .unwrap();
    assert_eq!(oauth.type_name(), "oauth2");
    let unknown = serde_json::from_str::<UpstreamAuth<String>>(
        r#"{"type":"oauth2","oauth_metadata":{"issuer":"https://as","bogus":1}}"#,
    );
    assert!(unknown.unwrap_err().to_string().contains("bogus"));
    let misnested =
        serde_json::from_str::<UpstreamAuth<String>>(r#"{"type":"oauth2","client_id":"c"}"#);
    assert!(misnested.unwrap_err().to_string().contains("client_id"));
}

#[test]
fn redaction_hides_every_secret() {
    let auth: UpstreamAuth<String> = serde_json::from_str(
        r#"{"type":"client_credentials","token_endpoint":"https://as/token","client_id":"c","client_secret":"hush"}"#,
    )
    .unwrap();
    let shown = serde_json::to_string(&auth.redacted()).unwrap();
    assert!(!shown.contains("hush"));
    assert!(shown.contains(r#""client_secret":{"set":true}"#));
}
