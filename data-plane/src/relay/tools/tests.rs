//! Tests of `tools`.

use mcpgw_shared::model::ToolFilter;

use super::*;

fn deny(names: &[&str]) -> ToolPolicy {
    ToolPolicy::compile(&ToolFilter {
        deny: names.iter().map(|n| (*n).to_owned()).collect(),
        ..ToolFilter::default()
    })
    .unwrap()
}

fn rewritten(data: &str, policy: &ToolPolicy) -> String {
    match filter(data.as_bytes(), policy) {
        Filtered::Rewritten(bytes) => String::from_utf8(bytes).unwrap(),
        Filtered::Unchanged => panic!("expected a rewrite of {data}"),
    }
}

#[test]
fn hidden_tools_are_removed_and_everything_else_is_kept_in_order() {
    let body = r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"echo","x-extra":{"k":1}},{"name":"secret"}],"nextCursor":"c","_meta":{"z":1}},"zzz":true}"#;
    assert_eq!(
        rewritten(body, &deny(&["secret"])),
        r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"echo","x-extra":{"k":1}}],"nextCursor":"c","_meta":{"z":1}},"zzz":true}"#
    );
}

#[test]
fn any_response_listing_tools_is_filtered_whatever_its_id() {
    for id in ["3", "3.0", "\"3\"", "null", "1e0"] {
        let body =
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"secret"}}]}}}}"#);
        assert!(
            !rewritten(&body, &deny(&["secret"])).contains("secret"),
            "id {id}"
        );
    }
}

#[test]
fn batches_of_answers_are_filtered_element_by_element() {
    let batch = r#"[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"secret"},{"name":"ok"}]}}]"#;
    assert_eq!(
        rewritten(batch, &deny(&["secret"])),
        r#"[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"ok"}]}}]"#
    );
}

#[test]
fn a_listing_a_client_could_read_two_ways_is_replaced_by_an_error() {
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[{"name":"secret"}]}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[],"tools":[{"name":"secret"}]}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":{"name":"secret"}}}"#,
    ] {
        let out = rewritten(body, &deny(&["secret"]));
        assert!(!out.contains("secret"), "{out}");
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json["error"]["code"], INTERNAL_ERROR, "{body}");
        assert_eq!(json["id"], 1);
    }
    let twice = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"ok","name":"secret"}]}}"#;
    let out = rewritten(twice, &deny(&["secret"]));
    assert!(
        !out.contains("secret"),
        "a tool with two names is dropped: {out}"
    );
}

#[test]
fn other_messages_are_left_alone() {
    let policy = deny(&["secret"]);
    for other in [
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":4,"result":{"content":[]}}"#,
        r#"{"jsonrpc":"2.0","id":4,"error":{"code":-1,"message":"x"}}"#,
        "not json",
        "[1,2]",
    ] {
        assert_eq!(
            filter(other.as_bytes(), &policy),
            Filtered::Unchanged,
            "{other}"
        );
    }
}

#[test]
fn a_denied_call_is_an_unknown_tool_that_names_the_rule() {
    let id = RawValue::from_string("\"x\"".to_owned()).unwrap();
    let hidden = Hidden::Denied("sec*".into());
    let body = denied_tool_response(Some(&id), "secret", "files", &hidden, "r1");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["id"], "x");
    assert_eq!(v["error"]["code"], -32602);
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("Unknown tool: secret"), "{message}");
    assert!(
        message.contains("`sec*`") && message.contains("`files`"),
        "{message}"
    );
    assert_eq!(v["error"]["data"]["rule"], "deny:sec*");
    assert_eq!(v["error"]["data"]["request_id"], "r1");
}

#[test]
fn a_renamed_tool_is_listed_by_its_shown_name_and_a_shadowed_one_not_at_all() {
    let policy = ToolPolicy::compile(
        &serde_json::from_str(
            r#"{"overrides":{"search_v2":{"name":"search","description":"Find"}}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"search","description":"old"},{"name":"search_v2","x":1}]}}"#;
    assert_eq!(
        rewritten(body, &policy),
        r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"search","x":1,"description":"Find"}]}}"#
    );
}
