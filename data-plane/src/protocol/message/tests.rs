//! Tests of `message`.

use super::*;

fn single(body: &str) -> Message {
    match inspect(body.as_bytes(), Era::Sessions).unwrap() {
        Body::Single(m) => m,
        Body::Batch(_) => panic!("not a batch"),
    }
}

fn refused(body: &str) -> MessageError {
    inspect(body.as_bytes(), Era::Sessions).expect_err(body)
}

#[test]
fn requests_notifications_and_responses_are_told_apart() {
    let call = single(
        r#"{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"echo","arguments":{"x":1},"extra":true},"unknown":1}"#,
    );
    assert_eq!(call.kind, Kind::Request);
    assert_eq!(call.raw_id().unwrap().get(), r#""a-1""#);
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
    match inspect(
        br#" [{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"x"}]"#,
        Era::Sessions,
    )
    .unwrap()
    {
        Body::Batch(items) => assert_eq!(items.len(), 2),
        Body::Single(_) => panic!("a batch"),
    }
    assert!(matches!(refused("{not json"), MessageError::Parse));
    for invalid in [
        "[]",
        "42",
        r#"{"id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1}"#,
    ] {
        assert!(
            matches!(refused(invalid), MessageError::Invalid(_)),
            "{invalid}"
        );
    }
}

#[test]
fn an_ill_typed_field_elsewhere_cannot_hide_the_tool_name() {
    // The request of the review: one extra ill-typed field once made the name unreadable, and
    // a denied tool ran. The name is read on its own, whatever else params hold.
    let call = single(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","protocolVersion":0,"capabilities":"x"}}"#,
    );
    assert_eq!(call.target.as_deref(), Some("echo"));
}

#[test]
fn routing_fields_of_the_wrong_type_missing_or_given_twice_are_invalid_params() {
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":null}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok","name":"echo"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["echo"]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":{"x":1}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":0}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":"all"}}"#,
    ] {
        assert!(
            matches!(refused(body), MessageError::InvalidParams { .. }),
            "{body}"
        );
    }
    let MessageError::InvalidParams { id, problem, .. } = refused(
        r#"{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"a","name":"b"}}"#,
    ) else {
        panic!("invalid params")
    };
    assert_eq!(id.unwrap().get(), r#""x""#);
    assert!(problem.contains("duplicate field `name`"), "{problem}");
}

#[test]
fn an_envelope_field_given_twice_is_refused() {
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"echo"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
    ] {
        assert!(matches!(refused(body), MessageError::Invalid(_)), "{body}");
    }
}

#[test]
fn ids_must_be_strings_or_integers_and_requests_need_one() {
    for body in [
        r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"echo"}}"#,
        r#"{"jsonrpc":"2.0","id":1.0,"method":"tools/call","params":{"name":"echo"}}"#,
        r#"{"jsonrpc":"2.0","id":1e0,"method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo"}}"#,
    ] {
        assert!(matches!(refused(body), MessageError::Invalid(_)), "{body}");
    }
    let negative = single(r#"{"jsonrpc":"2.0","id":-3,"method":"ping"}"#);
    assert!(
        negative
            .id
            .unwrap()
            .matches(&RawValue::from_string("-3".into()).unwrap())
    );
}

#[test]
fn ids_compare_by_value_not_by_spelling() {
    let id = single(r#"{"jsonrpc":"2.0","id":"a\u0062","method":"ping"}"#)
        .id
        .unwrap();
    let raw = |s: &str| RawValue::from_string(s.to_owned()).unwrap();
    assert!(id.matches(&raw(r#""ab""#)));
    assert!(!id.matches(&raw(r#""abc""#)));
    let number = single(r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#)
        .id
        .unwrap();
    assert!(number.matches(&raw("5")));
    assert!(!number.matches(&raw(r#""5""#)));
    assert!(!number.matches(&raw("5.0")));
}

#[test]
fn initialize_is_read_in_the_session_era_only() {
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    assert!(matches!(
        inspect(body, Era::Sessions),
        Err(MessageError::InvalidParams { .. })
    ));
    let Ok(Body::Single(relayed)) = inspect(body, Era::Stateless) else {
        panic!("a stateless initialize is the upstream's to refuse");
    };
    assert!(relayed.protocol_version.is_none());
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn era() -> impl Strategy<Value = Era> {
        prop_oneof![Just(Era::Sessions), Just(Era::Stateless)]
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_or_refused_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512), era in era()) {
            let _ = inspect(&bytes, era);
            let _ = peek_id(&bytes);
        }

        #[test]
        fn any_json_is_read_or_refused_without_panicking(text in r#"[\[\]{}":,0-9a-z .\\-]{0,200}"#, era in era()) {
            let _ = inspect(text.as_bytes(), era);
        }

        /// A `tools/call` names its tool whatever the id, the name and the other fields; a
        /// filter reads the same name the upstream will.
        #[test]
        fn a_tool_call_is_routed_by_its_name(id in any::<i64>(), name in "[A-Za-z0-9_./-]{1,40}", extra in "[a-z]{1,8}") {
            let body = serde_json::json!({
                "jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": name, "arguments": {extra.clone(): 1}, extra: true},
            });
            let message = match inspect(body.to_string().as_bytes(), Era::Sessions) {
                Ok(Body::Single(message)) => message,
                other => return Err(TestCaseError::fail(format!("{other:?}"))),
            };
            prop_assert_eq!(message.target.as_deref(), Some(name.as_str()));
            prop_assert!(message.is("tools/call"));
        }

        /// A routed field of the wrong type is refused, never read as absent: it could otherwise
        /// slip past a tool filter.
        #[test]
        fn an_ill_typed_tool_name_is_refused(value in prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
            Just(serde_json::json!([])),
            Just(serde_json::json!({})),
        ]) {
            let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": value}});
            prop_assert!(inspect(body.to_string().as_bytes(), Era::Sessions).is_err());
        }
    }
}
