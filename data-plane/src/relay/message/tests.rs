use super::*;

fn single(body: &str) -> Message {
    match inspect(body.as_bytes()).unwrap() {
        Body::Single(m) => m,
        Body::Batch(_) => panic!("not a batch"),
    }
}

#[test]
fn requests_notifications_and_responses_are_told_apart() {
    let call = single(
        r#"{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"echo","arguments":{"x":1},"extra":true},"unknown":1}"#,
    );
    assert_eq!(call.kind, Kind::Request);
    assert_eq!(call.id.unwrap().get(), r#""a-1""#);
    assert_eq!(call.target.as_deref(), Some("echo"));
    let note = single(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    assert_eq!(note.kind, Kind::Notification);
    let resp = single(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#);
    assert_eq!(resp.kind, Kind::Response);
    let read =
        single(r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"test://x"}}"#);
    assert_eq!(read.target.as_deref(), Some("test://x"));
    let init = single(
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}"#,
    );
    assert_eq!(init.protocol_version.as_deref(), Some("2025-03-26"));
    assert!(!init.invites_server_requests);
    let init = single(
        r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"roots":{"listChanged":true}}}}"#,
    );
    assert!(init.invites_server_requests);
}

#[test]
fn batches_and_garbage_are_recognized() {
    match inspect(br#" [{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"x"}]"#)
        .unwrap()
    {
        Body::Batch(items) => assert_eq!(items.len(), 2),
        Body::Single(_) => panic!("a batch"),
    }
    assert!(matches!(inspect(b"{not json"), Err(GatewayError::Parse)));
    assert!(matches!(
        inspect(b"[]"),
        Err(GatewayError::InvalidRequest(_))
    ));
    assert!(matches!(
        inspect(b"42"),
        Err(GatewayError::InvalidRequest(_))
    ));
    assert!(matches!(
        inspect(br#"{"id":1,"method":"ping"}"#),
        Err(GatewayError::InvalidRequest(_))
    ));
    assert!(matches!(
        inspect(br#"{"jsonrpc":"2.0","id":1}"#),
        Err(GatewayError::InvalidRequest(_))
    ));
    // Params of another shape are not an error of the gateway's: the upstream judges them.
    assert!(inspect(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1]}"#).is_ok());
}
