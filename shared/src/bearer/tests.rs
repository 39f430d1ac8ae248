//! Tests of `bearer`.

use super::*;

#[test]
fn the_scheme_is_case_insensitive_and_the_token_trimmed() {
    assert_eq!(bearer_token("Bearer abc"), Some("abc"));
    assert_eq!(bearer_token("bearer  abc "), Some("abc"));
    assert_eq!(bearer_token("BEARER abc"), Some("abc"));
}

#[test]
fn other_schemes_and_empty_tokens_are_refused() {
    for bad in [
        "",
        "Bearer",
        "Bearer ",
        "Basic abc",
        "Bearerabc",
        "Token abc",
    ] {
        assert_eq!(bearer_token(bad), None, "{bad:?}");
    }
}
