//! Tool policies through the gateway, in both protocol eras: globs in `allow` and `deny`,
//! tools shown under another name and description and called by it, and refusals naming the
//! rule.

use serde_json::{Value, json};

use super::http::{call, post, send, setup, setup_with_tools};
use crate::testing::harness::{Harness, WorkspacePolicies};

/// The echo upstream lists `echo` and `secret`; this policy denies `sec*` and shows `echo` as
/// `say` with its own description.
async fn renaming() -> (Harness, String) {
    setup_with_tools(json!({
        "deny": ["sec*"],
        "overrides": {"echo": {"name": "say", "description": "Says it back"}},
    }))
    .await
}

/// The JSON-RPC message of an SSE or JSON answer.
fn message(text: &str) -> Value {
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m.get("id").is_some())
        .unwrap_or_else(|| serde_json::from_str(text).unwrap())
}

#[tokio::test]
async fn tools_are_listed_and_called_as_the_policy_shows_them_in_both_eras() {
    crate::testing::within(async {
        let (gw, key) = renaming().await;
        let url = gw.url("echo");
        let stateless = |body: Value, method: &str, name: Option<&str>| {
            let mut request = post(&url, &key, body)
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", method);
            if let Some(name) = name {
                request = request.header("mcp-name", name);
            }
            request
        };
        let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
        for request in [
            post(&url, &key, list.clone()).header("mcp-protocol-version", "2025-03-26"),
            stateless(list.clone(), "tools/list", None),
        ] {
            let answer = send(request).await;
            let tools = &message(&answer.text)["result"]["tools"];
            assert_eq!(
                tools,
                &json!([
                    {"name": "say", "inputSchema": {"type": "object"}, "description": "Says it back"},
                    {"name": "peek", "inputSchema": {"type": "object"}, "annotations": {"readOnlyHint": true}},
                ]),
                "{}",
                answer.text
            );
        }

        // Called by the shown name, the upstream gets its own name (body and Mcp-Name).
        let answer = send(stateless(call(2, "say"), "tools/call", Some("say"))).await;
        let seen = message(&answer.text);
        let body: Value =
            serde_json::from_str(seen["result"]["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["params"]["name"], "echo", "{seen}");
        assert_eq!(seen["result"]["headers"]["mcp-name"], "echo", "{seen}");

        // Its own name, and a denied tool: refused, naming the rule and the request id.
        for (tool, rule) in [("echo", "override"), ("secret", "deny:sec*")] {
            let answer = send(stateless(call(3, tool), "tools/call", Some(tool))).await;
            let error = &answer.json()["error"];
            assert_eq!(error["data"]["reason"], "tool_denied", "{error}");
            assert_eq!(error["data"]["rule"], rule, "{error}");
            assert_eq!(
                error["data"]["request_id"],
                answer.headers["x-request-id"].to_str().unwrap()
            );
            assert!(
                error["message"].as_str().unwrap().starts_with(&format!("Unknown tool: {tool}")),
                "{error}"
            );
        }
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_read_only_server_shows_and_runs_only_tools_annotated_read_only() {
    crate::testing::within(async {
        let (gw, key) = setup_with_tools(json!({"read_only": true})).await;
        let url = gw.url("echo");
        for version in ["2025-03-26", "2026-07-28"] {
            let with_headers = |body: Value, method: &str, name: Option<&str>| {
                let mut request = post(&url, &key, body).header("mcp-protocol-version", version);
                if version == "2026-07-28" {
                    request = request.header("mcp-method", method);
                    if let Some(name) = name {
                        request = request.header("mcp-name", name);
                    }
                }
                request
            };
            let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
            let answer = send(with_headers(list, "tools/list", None)).await;
            let names: Vec<String> = message(&answer.text)["result"]["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(names, ["peek"], "{version}: {}", answer.text);
            // The upstream's own listing decides a call, whether or not the client listed.
            let answer = send(with_headers(call(2, "peek"), "tools/call", Some("peek"))).await;
            assert!(
                message(&answer.text)["result"]["body"].is_string(),
                "{version}: {}",
                answer.text
            );
            for tool in ["echo", "secret", "absent"] {
                let answer = send(with_headers(call(3, tool), "tools/call", Some(tool))).await;
                let error = &answer.json()["error"];
                assert_eq!(
                    error["data"]["rule"], "read_only",
                    "{version} {tool}: {error}"
                );
            }
        }
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_workspace_policy_limits_the_server_for_its_keys() {
    crate::testing::within(async {
        let (mut gw, _, key) = setup().await;
        gw.put_workspace(&WorkspacePolicies {
            tools: serde_json::from_value(json!({"deny": ["ech?"]})).unwrap(),
            ..WorkspacePolicies::default()
        });
        let url = gw.url("echo");
        let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
        let answer =
            send(post(&url, &key, list).header("mcp-protocol-version", "2025-03-26")).await;
        let names: Vec<String> = message(&answer.text)["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["secret", "peek"], "{}", answer.text);
        let answer =
            send(post(&url, &key, call(2, "echo")).header("mcp-protocol-version", "2025-03-26"))
                .await;
        assert_eq!(
            answer.json()["error"]["data"]["rule"],
            "workspace:deny:ech?",
            "{}",
            answer.text
        );
        gw.stop().await;
    })
    .await;
}

/// The tool names of a listing answer.
fn listed(text: &str) -> Vec<String> {
    message(text)["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("a listing: {text}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn grants_of_a_key_and_of_a_user_limit_servers_and_tools_in_both_eras() {
    crate::testing::within(async {
        let (mut gw, upstream, plain) = setup().await;
        gw.add_server("other", &upstream);
        let (granted, granted_record) = gw.add_invoke_key();
        let (credential, mut alice) = crate::testing::invoke_key(gw.workspace);
        alice.key_type = mcpgw_shared::model::KeyType::User;
        alice.user_id = Some("alice".into());
        gw.put_key(&alice);
        let alice_key = credential.expose();
        let grants = serde_json::from_value(json!({
            format!("key:{}", granted_record.id): {"servers": ["echo"], "tools": {"deny": ["sec*"]}},
            "user:alice": {"tools": {"read_only": true}},
        }))
        .unwrap();
        gw.put_workspace(&WorkspacePolicies {
            grants,
            ..WorkspacePolicies::default()
        });

        let eras = [
            ("2025-03-26", None),
            ("2026-07-28", Some("tools/list")),
        ];
        for (version, method) in eras {
            let list = |url: &str, key: &str| {
                let mut request = post(url, key, json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
                    .header("mcp-protocol-version", version);
                if let Some(method) = method {
                    request = request.header("mcp-method", method);
                }
                request
            };
            let called = |url: &str, key: &str, tool: &str| {
                let mut request =
                    post(url, key, call(2, tool)).header("mcp-protocol-version", version);
                if method.is_some() {
                    request = request.header("mcp-method", "tools/call").header("mcp-name", tool);
                }
                request
            };
            let echo = gw.url("echo");
            // A key without grants sees everything; the granted key loses `sec*`; alice only
            // what is annotated read-only.
            let all = send(list(&echo, &plain)).await;
            assert_eq!(listed(&all.text), ["echo", "secret", "peek"], "{version}");
            let answer = send(list(&echo, &granted)).await;
            assert_eq!(listed(&answer.text), ["echo", "peek"], "{version}");
            let answer = send(list(&echo, &alice_key)).await;
            assert_eq!(listed(&answer.text), ["peek"], "{version}");

            let refused = send(called(&echo, &granted, "secret")).await;
            let error = &refused.json()["error"];
            assert_eq!(error["data"]["rule"], "key:deny:sec*", "{version}: {error}");
            assert!(
                error["message"].as_str().unwrap().contains("your API key's grants"),
                "{error}"
            );
            let refused = send(called(&echo, &alice_key, "echo")).await;
            assert_eq!(
                refused.json()["error"]["data"]["rule"],
                "user:read_only",
                "{version}: {}",
                refused.text
            );
            assert_eq!(send(called(&echo, &granted, "echo")).await.status, 200);

            // The granted key may use only `echo`; the others reach `other` too.
            let other = gw.url("other");
            let refused = send(list(&other, &granted)).await;
            let error = refused.assert_error(403, "not_granted");
            assert!(
                error["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("server `other` is not among the servers your API key's grants allow"),
                "{error}"
            );
            assert_eq!(send(list(&other, &alice_key)).await.status, 200);
        }
        gw.stop().await;
    })
    .await;
}
