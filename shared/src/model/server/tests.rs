//! Tests of `server`.

use super::*;

#[test]
fn tool_filters_read_overrides_and_refuse_unknown_fields() {
    let filter: ToolFilter = serde_json::from_str(
        r#"{"deny":["*_delete"],"overrides":{"search_v2":{"name":"search","description":"Find"}}}"#,
    )
    .unwrap();
    assert_eq!(
        filter.overrides["search_v2"].name.as_deref(),
        Some("search")
    );
    assert!(serde_json::from_str::<ToolFilter>(r#"{"overrides":{"a":{"nmae":"b"}}}"#).is_err());
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
