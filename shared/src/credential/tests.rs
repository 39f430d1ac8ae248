//! Tests of `credential`.

use super::*;

#[test]
fn generated_credentials_parse_back_and_verify() {
    let key = Credential::generate(CredentialKind::ApiKey);
    let text = key.expose();
    assert!(text.starts_with("mcpgw_"));
    let parsed = Credential::parse(CredentialKind::ApiKey, &text).unwrap();
    assert_eq!(parsed.id(), key.id());
    assert!(parsed.verify(&key.secret_hash()));
}

#[test]
fn a_wrong_secret_does_not_verify() {
    let key = Credential::generate(CredentialKind::ApiKey);
    let other = Credential::generate(CredentialKind::ApiKey);
    assert!(!key.verify(&other.secret_hash()));
    assert!(!key.verify(b"short"));
}

#[test]
fn prefixes_are_not_interchangeable() {
    let token = Credential::generate(CredentialKind::DataPlaneToken).expose();
    assert!(token.starts_with("mcpgwdp_"));
    assert!(Credential::parse(CredentialKind::ApiKey, &token).is_err());
}

#[test]
fn malformed_texts_are_rejected() {
    let secret = "A".repeat(32);
    for bad in [
        String::new(),
        "mcpgw_".into(),
        format!("mcpgw_abc_{secret}"),
        format!("mcpgw_abcdefgh_{}", "A".repeat(31)),
        format!("mcpgw_abcdefgh_{}!", "A".repeat(32)),
        format!("xmcpgw_abcdefgh_{secret}"),
    ] {
        assert!(
            Credential::parse(CredentialKind::ApiKey, &bad).is_err(),
            "{bad}"
        );
    }
    assert!(Credential::parse(CredentialKind::ApiKey, &format!("mcpgw_abcdefgh_{secret}")).is_ok());
}

#[test]
fn debug_never_shows_the_secret() {
    let key = Credential::generate(CredentialKind::ApiKey);
    assert!(!format!("{key:?}").contains(&key.secret));
}
