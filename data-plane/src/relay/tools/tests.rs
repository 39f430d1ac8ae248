//! Tests of `tools`.

use super::*;

fn raw(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_owned()).unwrap()
}

#[test]
fn hidden_tools_are_removed_and_everything_else_is_kept_in_order() {
    let filter = ToolFilter {
        allow: None,
        deny: vec!["secret".into()],
    };
    let body = r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"echo","x-extra":{"k":1}},{"name":"secret"}],"nextCursor":"c","_meta":{"z":1}},"zzz":true}"#;
    let out = filter_list_response(body.as_bytes(), &raw("3"), &filter).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"echo","x-extra":{"k":1}}],"nextCursor":"c","_meta":{"z":1}},"zzz":true}"#
    );
}

#[test]
fn other_messages_are_left_alone() {
    let filter = ToolFilter {
        allow: Some(vec!["echo".into()]),
        deny: vec![],
    };
    let note = r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#;
    assert!(filter_list_response(note.as_bytes(), &raw("3"), &filter).is_none());
    let other = r#"{"jsonrpc":"2.0","id":4,"result":{"tools":[]}}"#;
    assert!(filter_list_response(other.as_bytes(), &raw("3"), &filter).is_none());
    let string_id = r#"{"jsonrpc":"2.0","id":"3","result":{"tools":[{"name":"a"}]}}"#;
    assert!(filter_list_response(string_id.as_bytes(), &raw("3"), &filter).is_none());
}

#[test]
fn a_denied_call_looks_like_an_unknown_tool() {
    let body = unknown_tool_response(Some(&raw("\"x\"")), "secret");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["id"], "x");
    assert_eq!(v["error"]["code"], -32602);
    assert_eq!(v["error"]["message"], "Unknown tool: secret");
}
