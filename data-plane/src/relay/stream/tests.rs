use super::{Seen, seen};
use crate::protocol::era::Era;
use crate::protocol::message::{self, Body, RpcId};

/// The id of the request `{"id": <id>, "method": "tools/call"}`.
fn id(raw: &str) -> RpcId {
    let request =
        format!(r#"{{"jsonrpc":"2.0","id":{raw},"method":"tools/call","params":{{"name":"t"}}}}"#);
    match message::inspect(request.as_bytes(), Era::Sessions).expect("a request") {
        Body::Single(m) => m.id.expect("an id"),
        Body::Batch(_) => unreachable!("one message"),
    }
}

fn event(data: &str) -> Vec<u8> {
    format!("event: message\ndata: {data}\n\n").into_bytes()
}

#[test]
fn only_the_answer_with_the_same_id_pays_the_debt() {
    let owed = id("7");
    assert_eq!(
        seen(&event(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#), &owed),
        Seen::Answer
    );
    assert_eq!(
        seen(
            &event(r#"{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"no"}}"#),
            &owed
        ),
        Seen::Answer
    );
    // Another id, the same number as text, a request of the server's, a notification.
    for other in [
        r#"{"jsonrpc":"2.0","id":8,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":"7","result":{}}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"sampling/createMessage","params":{}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#,
    ] {
        assert_eq!(seen(&event(other), &owed), Seen::Other, "{other}");
    }
    let text_id = id(r#""a-1""#);
    assert_eq!(
        seen(
            &event(r#"{"jsonrpc":"2.0","id":"a-1","result":{}}"#),
            &text_id
        ),
        Seen::Answer
    );
}

#[test]
fn comments_and_priming_events_are_not_messages_and_garbage_is_malformed() {
    let owed = id("1");
    assert_eq!(seen(b": keep-alive\n\n", &owed), Seen::Other);
    assert_eq!(seen(b"id: 42\ndata:\n\n", &owed), Seen::Other);
    assert_eq!(seen(b"retry: 1000\n\n", &owed), Seen::Other);
    for garbage in ["{not json", "[1,", "<html>", "\u{1}"] {
        assert_eq!(seen(&event(garbage), &owed), Seen::Malformed, "{garbage}");
    }
}
