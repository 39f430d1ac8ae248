//! Tests of `signing`.

use chrono::Utc;
use mcpgw_shared::secret::Keyring;

use super::*;

fn cipher() -> SecretCipher {
    SecretCipher::new(Keyring::single(&[7; 32]))
}

fn row(id: SigningKeyId, key: GeneratedKey) -> SigningKeyRow {
    SigningKeyRow {
        id,
        kid: key.kid,
        public_jwk: key.public_jwk,
        sealed_private: key.sealed_private,
        created_at: Utc::now(),
        retired_at: None,
    }
}

fn new_key() -> SigningKeyRow {
    let id = SigningKeyId::new();
    row(id, generate(&cipher(), &id).unwrap())
}

fn claims(exp: i64) -> AccessClaims {
    AccessClaims {
        iss: "https://gw.example".into(),
        sub: "alice".into(),
        aud: "https://gw.example/github/mcp".into(),
        iat: exp - 600,
        nbf: exp - 600,
        exp,
        jti: "j".into(),
        client_id: "c".into(),
        scope: "mcp:*".into(),
        mcpgw_workspace: "w".into(),
        mcpgw_grant: "g".into(),
    }
}

#[test]
fn a_generated_key_publishes_a_public_es256_jwk_named_by_its_kid() {
    let key = new_key();
    assert_eq!(key.public_jwk["kid"], key.kid);
    assert_eq!(key.public_jwk["alg"], "ES256");
    assert_eq!(key.public_jwk["use"], "sig");
    assert_eq!(key.public_jwk["crv"], "P-256");
    assert!(key.public_jwk.get("d").is_none());
    let sealed = serde_json::to_string(&key.sealed_private).unwrap();
    assert!(!sealed.contains("PRIVATE KEY"), "{sealed}");
}

#[test]
fn a_signed_token_verifies_with_its_key_only() {
    let key = new_key();
    let later = Utc::now().timestamp() + 600;
    let token = sign(&cipher(), &key, &claims(later)).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
    assert_eq!(
        verify(std::slice::from_ref(&key), &token, true),
        Some(claims(later))
    );
    assert_eq!(verify(&[new_key()], &token, true), None);
}

#[test]
fn an_expired_token_verifies_only_when_expiry_is_not_checked() {
    let key = new_key();
    let token = sign(&cipher(), &key, &claims(Utc::now().timestamp() - 10)).unwrap();
    assert!(verify(std::slice::from_ref(&key), &token, true).is_none());
    assert!(verify(std::slice::from_ref(&key), &token, false).is_some());
}

#[test]
fn a_key_sealed_with_another_secret_key_does_not_sign() {
    let key = new_key();
    let other = SecretCipher::new(Keyring::single(&[8; 32]));
    let refused = sign(&other, &key, &claims(0));
    assert!(matches!(refused, Err(SigningError::Unreadable { .. })));
}

#[test]
fn the_jwks_holds_the_public_keys() {
    let keys = [new_key(), new_key()];
    let jwks = jwks(&keys);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert_eq!(jwks["keys"][1]["kid"], keys[1].kid);
}

#[test]
fn a_user_assertion_is_typed_jwt_and_never_passes_for_an_access_token() {
    let key = new_key();
    let now = Utc::now().timestamp();
    let claims = UserAssertionClaims {
        iss: "https://gw.example/".into(),
        sub: "alice".into(),
        aud: "https://upstream.example/mcp".into(),
        iat: now,
        exp: now + 300,
        jti: "j".into(),
        mcpgw_workspace: "w".into(),
        mcpgw_server: "s".into(),
    };
    let token = sign_user_assertion(&cipher(), &key, &claims).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
    assert_eq!(verify(std::slice::from_ref(&key), &token, true), None);
}
