//! Tests of `ids`.

use super::*;

#[test]
fn generated_api_key_ids_are_valid() {
    for _ in 0..100 {
        let id = ApiKeyId::generate();
        assert_eq!(id.as_str().parse::<ApiKeyId>().unwrap(), id);
    }
}

#[test]
fn api_key_ids_reject_uppercase_short_and_long() {
    assert!("ABCDEFGH".parse::<ApiKeyId>().is_err());
    assert!("abc".parse::<ApiKeyId>().is_err());
    assert!("a".repeat(17).parse::<ApiKeyId>().is_err());
    assert!("abc_defgh".parse::<ApiKeyId>().is_err());
}

#[test]
fn uuid_ids_round_trip_and_name_their_stream() {
    let id = ServerId::new();
    assert_eq!(id.to_string().parse::<ServerId>().unwrap(), id);
    assert!(id.stream().to_string().starts_with("server:"));
    assert!("nope".parse::<WorkspaceId>().is_err());
}

#[test]
fn stream_ids_read_back_what_they_write() {
    let streams = [
        WorkspaceId::new().stream(),
        ServerId::new().stream(),
        ApiKeyId::generate().stream(),
        DataPlaneId::new().stream(),
        OAuthClientId::new().stream(),
        OAuthGrantId::new().stream(),
        SigningKeyId::new().stream(),
    ];
    for stream in streams {
        assert_eq!(stream.to_string().parse::<StreamId>().unwrap(), stream);
        let json = serde_json::to_string(&stream).unwrap();
        let kind = serde_json::to_value(stream.kind()).unwrap();
        assert_eq!(kind, stream.kind().as_str(), "{stream}");
        assert_eq!(serde_json::from_str::<StreamId>(&json).unwrap(), stream);
    }
}

#[test]
fn malformed_stream_ids_are_refused() {
    for bad in [
        "",
        "server",
        "server:",
        "server:nope",
        "bogus:abcdefgh",
        "api_key:AB",
    ] {
        assert!(bad.parse::<StreamId>().is_err(), "{bad}");
    }
}
