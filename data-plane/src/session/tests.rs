use std::time::{Duration, Instant};

use mcpgw_shared::ServerId;
use mcpgw_shared::secret::{Keyring, generate_base64_key};

use super::*;

fn keyring(kid: &str) -> Keyring {
    Keyring::parse(&format!("{kid}:{}", generate_base64_key())).unwrap()
}

fn sealer() -> SessionSealer {
    SessionSealer::new(keyring("k1"), Duration::from_secs(3600))
}

#[test]
fn a_sealed_session_opens_for_its_server_and_principal() {
    let sealer = sealer();
    let server = ServerId::new();
    let mut claims = SessionSealer::claims(3, "2025-11-25", "k:abcdefgh", Some("upstream-123"));
    claims.defer_initialized = true;
    let token = sealer.seal(&server, &claims);
    assert!(token.len() < 256, "{} bytes", token.len());
    assert!(token.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    assert!(!token.contains("upstream-123"));
    assert_eq!(
        sealer.open(&token, &server, 3, "k:abcdefgh").unwrap(),
        claims
    );
}

#[test]
fn other_servers_principals_and_configs_are_refused() {
    let sealer = sealer();
    let server = ServerId::new();
    let token = sealer.seal(
        &server,
        &SessionSealer::claims(3, "2025-11-25", "k:a", None),
    );
    assert_eq!(
        sealer.open(&token, &ServerId::new(), 3, "k:a"),
        Err(SessionError::Unauthentic)
    );
    assert_eq!(
        sealer.open(&token, &server, 3, "k:b"),
        Err(SessionError::ForeignPrincipal)
    );
    assert_eq!(
        sealer.open(&token, &server, 4, "k:a"),
        Err(SessionError::Stale)
    );
}

#[test]
fn forged_tampered_and_oversized_tokens_are_refused() {
    let sealer = sealer();
    let server = ServerId::new();
    let token = sealer.seal(
        &server,
        &SessionSealer::claims(1, "2025-06-18", "k:a", None),
    );
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        sealer.open(&tampered, &server, 1, "k:a"),
        Err(SessionError::Unauthentic)
    );
    for forged in [
        "",
        "abc",
        "s1.k1.",
        "s1.k1.!!!",
        "s2.k1.AAAA",
        "s1.zz.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert!(sealer.open(forged, &server, 1, "k:a").is_err(), "{forged}");
    }
    let long = format!("s1.k1.{}", "A".repeat(MAX_TOKEN_LEN));
    assert_eq!(
        sealer.open(&long, &server, 1, "k:a"),
        Err(SessionError::Malformed)
    );
    let other_key = SessionSealer::new(keyring("k1"), Duration::from_secs(3600));
    assert_eq!(
        other_key.open(&token, &server, 1, "k:a"),
        Err(SessionError::Unauthentic)
    );
}

#[test]
fn old_sessions_are_refused() {
    let sealer = SessionSealer::new(keyring("k1"), Duration::from_secs(60));
    let server = ServerId::new();
    let mut claims = SessionSealer::claims(1, "2025-06-18", "k:a", None);
    claims.issued_at -= 61;
    let token = sealer.seal(&server, &claims);
    assert_eq!(
        sealer.open(&token, &server, 1, "k:a"),
        Err(SessionError::TooOld)
    );
}

#[test]
fn a_rotated_keyring_still_opens_sessions_of_the_retiring_key() {
    let old_key = generate_base64_key();
    let old = SessionSealer::new(
        Keyring::parse(&format!("old:{old_key}")).unwrap(),
        Duration::from_secs(60),
    );
    let rotated = SessionSealer::new(
        Keyring::parse(&format!("new:{},old:{old_key}", generate_base64_key())).unwrap(),
        Duration::from_secs(60),
    );
    let server = ServerId::new();
    let token = old.seal(
        &server,
        &SessionSealer::claims(1, "2025-03-26", "u:alice", Some("x")),
    );
    assert!(rotated.open(&token, &server, 1, "u:alice").is_ok());
    assert!(
        rotated
            .seal(
                &server,
                &SessionSealer::claims(1, "2025-03-26", "u:alice", None)
            )
            .starts_with("s1.new.")
    );
}

/// Not a benchmark (see the bench binary), only a guard against a gross regression.
#[test]
fn sealing_and_opening_take_microseconds_not_milliseconds() {
    let sealer = sealer();
    let server = ServerId::new();
    let claims = SessionSealer::claims(
        1,
        "2025-11-25",
        "k:abcdefgh",
        Some("0123456789abcdef0123456789abcdef"),
    );
    let start = Instant::now();
    for _ in 0..1000 {
        let token = sealer.seal(&server, &claims);
        sealer.open(&token, &server, 1, "k:abcdefgh").unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?} for 1000 round trips",
        start.elapsed()
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_token_text_is_refused_without_panicking(token in "[ -~]{0,300}") {
            let sealer = sealer();
            prop_assert!(sealer.open(&token, &ServerId::new(), 1, "k:a").is_err());
        }

        #[test]
        fn any_decrypted_bytes_decode_or_are_refused_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = SessionClaims::decode(&bytes);
        }

        /// Changing any character of a sealed token makes it refused.
        #[test]
        fn a_tampered_token_never_opens(at in any::<prop::sample::Index>(), with in "[A-Za-z0-9_.-]") {
            let sealer = sealer();
            let server = ServerId::new();
            let token = sealer.seal(&server, &SessionSealer::claims(1, "2025-11-25", "k:a", Some("up")));
            let at = at.index(token.len());
            let mut tampered = token.clone();
            tampered.replace_range(at..=at, &with);
            prop_assume!(tampered != token);
            prop_assert!(sealer.open(&tampered, &server, 1, "k:a").is_err());
        }
    }
}
