//! Tests of `oauth_scope`.

use super::*;

#[test]
fn scopes_are_read_once_each_and_unknown_ones_are_refused() {
    assert_eq!(
        parse("scope", "mcp:tools:list  mcp:tools:list mcp:*").unwrap(),
        vec![TOOLS_LIST, ALL]
    );
    let refused = parse("scope", "mcp:tools:list admin");
    assert!(matches!(refused, Err(DomainError::Invalid { field, .. }) if field == "scope"));
}

#[test]
fn the_wildcard_covers_every_scope_and_others_only_themselves() {
    assert!(covers("mcp:*", "mcp:tools:call"));
    assert!(covers("mcp:tools:list mcp:tools:call", "mcp:tools:call"));
    assert!(!covers("mcp:tools:list", "mcp:tools:call"));
    assert!(!covers("mcp:tools:list", "mcp:*"));
}
