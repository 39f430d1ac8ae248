//! Tests of `secret`.

use super::*;

fn cipher() -> SecretCipher {
    SecretCipher::new(Keyring::from_base64_key(&generate_base64_key()).unwrap())
}

#[test]
fn a_sealed_secret_opens_only_in_its_context() {
    let cipher = cipher();
    let sealed = cipher.seal("s3cret", "server:1/x");
    assert_eq!(
        cipher.open(&sealed, "server:1/x").unwrap().expose(),
        "s3cret"
    );
    assert_eq!(
        cipher.open(&sealed, "server:2/x"),
        Err(SecretError::Unauthentic)
    );
}

#[test]
fn the_ciphertext_does_not_contain_the_plaintext() {
    let sealed = cipher().seal("plaintext-marker", "ctx");
    let json = serde_json::to_string(&sealed).unwrap();
    assert!(!json.contains("plaintext-marker"));
}

#[test]
fn tampering_is_detected() {
    let cipher = cipher();
    let mut sealed = cipher.seal("value", "ctx");
    let mut ct = URL_SAFE_NO_PAD.decode(&sealed.ct).unwrap();
    ct[0] ^= 1;
    sealed.ct = URL_SAFE_NO_PAD.encode(ct);
    assert_eq!(cipher.open(&sealed, "ctx"), Err(SecretError::Unauthentic));
}

#[test]
fn a_rotated_keyring_opens_what_the_old_key_sealed() {
    let old = generate_base64_key();
    let new = generate_base64_key();
    let before = Keyring::parse(&format!("k1:{old}")).unwrap();
    let (kid, nonce, ct) = before.seal(b"hello", b"aad");
    let kid = kid.to_owned();
    let after = Keyring::parse(&format!("k2:{new},k1:{old}")).unwrap();
    assert_eq!(after.sealing_key_id(), "k2");
    assert_eq!(after.open(&kid, &nonce, &ct, b"aad").unwrap(), b"hello");
    let only_new = Keyring::parse(&format!("k2:{new}")).unwrap();
    assert!(matches!(
        only_new.open(&kid, &nonce, &ct, b"aad"),
        Err(SecretError::UnknownKey(_))
    ));
}

#[test]
fn bad_keys_and_keyrings_are_rejected() {
    assert_eq!(
        Keyring::from_base64_key("short").unwrap_err(),
        SecretError::BadKey
    );
    assert!(Keyring::parse("").is_err());
    assert!(Keyring::parse("nokid").is_err());
    let key = generate_base64_key();
    assert!(matches!(
        Keyring::parse(&format!("a:{key},a:{key}")),
        Err(SecretError::DuplicateKeyId(_))
    ));
}

#[test]
fn redacted_values_do_not_print() {
    let value = Redacted::new("hunter2".to_owned());
    assert_eq!(format!("{value:?} {value}"), "[redacted] [redacted]");
}
