//! Tests of `credentials`.

use super::*;

#[test]
fn codes_and_refresh_tokens_name_their_grant_and_are_hashed_whole() {
    let grant = OAuthGrantId::new();
    let code = new_code(&grant);
    assert_eq!(code_grant(&code.text), Some(grant));
    assert_eq!(code.sha256, sha256(&code.text));
    let refresh = new_refresh_token(&grant, 7);
    assert!(is_refresh_token(&refresh.text));
    assert_eq!(refresh_token_grant(&refresh.text), Some((grant, 7)));
    let hyphenated = format!("mcpgw_ac_{grant}_{}", "a_b".repeat(15));
    assert_eq!(code_grant(&hyphenated), Some(grant));
}

#[test]
fn malformed_codes_and_tokens_name_nothing() {
    for bad in ["", "mcpgw_ac_", "mcpgw_ac_nope_x", "mcpgw_rt_x", "other"] {
        assert_eq!(code_grant(bad), None, "{bad}");
        assert_eq!(refresh_token_grant(bad), None, "{bad}");
    }
    let grant = OAuthGrantId::new().as_uuid().simple();
    assert_eq!(
        refresh_token_grant(&format!("mcpgw_rt_{grant}_x_abc")),
        None
    );
    assert_eq!(code_grant(&format!("mcpgw_ac_{grant}_")), None);
}
