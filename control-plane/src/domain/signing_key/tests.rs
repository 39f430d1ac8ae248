//! Tests of `signing_key`: given these events, when this command, then these events or that
//! error.

use super::*;

fn create(public_jwk: serde_json::Value) -> SigningKeyCommand {
    SigningKeyCommand::Create {
        kid: "k1".into(),
        public_jwk,
        sealed_private: SealedSecret {
            kid: "k".into(),
            nonce: "n".into(),
            ct: "c".into(),
        },
    }
}

fn public_jwk() -> serde_json::Value {
    serde_json::json!({"kty": "EC", "crv": "P-256", "x": "eA", "y": "eQ"})
}

fn when(
    state: &SigningKey,
    command: SigningKeyCommand,
) -> Result<Vec<SigningKeyEvent>, DomainError> {
    state
        .decide(&SigningKeyId::new(), command)
        .map(|decision| decision.events)
}

#[test]
fn a_key_is_created_once_with_a_public_jwk() {
    let events = when(&SigningKey::default(), create(public_jwk())).unwrap();
    assert_eq!(events[0].event_type(), "SigningKeyCreated");
    let created = SigningKey::from_events(&events);
    assert!(matches!(
        when(&created, create(public_jwk())),
        Err(DomainError::AlreadyExists { .. })
    ));
}

#[test]
fn a_jwk_with_its_private_part_is_never_recorded() {
    let mut private = public_jwk();
    private["d"] = "secret".into();
    assert!(matches!(
        when(&SigningKey::default(), create(private)),
        Err(DomainError::Invalid { field, .. }) if field == "public_jwk"
    ));
}

#[test]
fn retiring_a_key_happens_once_and_needs_the_key() {
    assert!(matches!(
        when(&SigningKey::default(), SigningKeyCommand::Retire),
        Err(DomainError::NotFound { .. })
    ));
    let mut key =
        SigningKey::from_events(&when(&SigningKey::default(), create(public_jwk())).unwrap());
    let events = when(&key, SigningKeyCommand::Retire).unwrap();
    assert_eq!(events, vec![SigningKeyEvent::Retired]);
    key.apply(&events[0]);
    assert_eq!(when(&key, SigningKeyCommand::Retire).unwrap(), vec![]);
}
