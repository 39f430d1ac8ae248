//! Virtual servers through the gateway: each member reached with its own upstream auth and by
//! its own tool names, in both eras; the client's credential reaches no member.

use std::collections::BTreeMap;

use mcpgw_shared::Redacted;
use mcpgw_shared::model::{FailureMode, Member, PrefixMode, UpstreamAuth, VirtualServer};
use serde_json::{Value, json};

use super::http::{call, post, send};
use crate::testing::echo_upstream;
use crate::testing::harness::Harness;

/// The JSON-RPC message of an answer, and what the echo upstream saw of the call.
fn seen(text: &str) -> (Value, Value) {
    let message: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let body = message["result"]["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).unwrap())
        .unwrap_or(Value::Null);
    (message, body)
}

/// A gateway with servers `alpha` and `beta` (the echo upstream, each with its own header
/// auth) and a virtual server `bundle` over both; returns it with an invoke key.
async fn bundle() -> (Harness, String) {
    let upstream = echo_upstream::spawn().await;
    let mut gw = Harness::start().await;
    for (slug, secret) in [("alpha", "key-a"), ("beta", "key-b")] {
        let mut server = gw.add_server(slug, &upstream);
        server.auth = UpstreamAuth::Headers {
            headers: BTreeMap::from([("X-Upstream-Key".into(), Redacted::new(secret.into()))]),
        };
        server.version += 1;
        gw.put_server(&server);
    }
    let mut bundle = crate::testing::server("bundle", gw.workspace, "");
    bundle.virtual_server = Some(VirtualServer {
        members: ["alpha", "beta"]
            .into_iter()
            .map(|slug| Member {
                server: slug.into(),
                on_failure: FailureMode::Closed,
            })
            .collect(),
        prefix: PrefixMode::OnConflict,
    });
    gw.put_server(&bundle);
    let (key, _) = gw.add_invoke_key();
    (gw, key)
}

#[tokio::test]
async fn each_member_is_called_with_its_own_auth_by_its_own_name_in_both_eras() {
    crate::testing::within(async {
        let (gw, key) = bundle().await;
        let url = gw.url("bundle");

        // Session era: the gateway's own session; both members share every name, so each is
        // prefixed.
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
        let answer = send(post(&url, &key, init)).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let session = answer.headers["mcp-session-id"].to_str().unwrap().to_owned();
        let in_session = |body: Value| {
            post(&url, &key, body)
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "2025-11-25")
        };
        let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
        let (listed, _) = seen(&send(in_session(list)).await.text);
        let names: Vec<&str> = listed["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["alpha__echo", "alpha__secret", "alpha__peek", "beta__echo", "beta__secret", "beta__peek"]
        );
        for (member, secret) in [("alpha", "key-a"), ("beta", "key-b")] {
            let answer = send(in_session(call(2, &format!("{member}__echo")))).await;
            let (message, body) = seen(&answer.text);
            assert_eq!(message["id"], 2, "{message}");
            assert_eq!(body["params"]["name"], "echo", "{message}");
            let headers = &message["result"]["headers"];
            assert_eq!(headers["x-upstream-key"], secret, "{headers}");
            assert_eq!(headers["mcp-session-id"], "up-1", "a member session: {headers}");
            assert!(
                !headers.to_string().contains(&key),
                "the client's key reached a member: {headers}"
            );
        }

        // 2026-07-28: no session; the member gets the envelope and its own Mcp-Name.
        let answer = send(
            post(&url, &key, call(3, "beta__secret"))
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "beta__secret"),
        )
        .await;
        let (message, body) = seen(&answer.text);
        assert_eq!(body["params"]["name"], "secret", "{message}");
        let headers = &message["result"]["headers"];
        assert_eq!(headers["mcp-name"], "secret", "{headers}");
        assert_eq!(headers["x-upstream-key"], "key-b", "{headers}");
        assert_eq!(
            body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_members_rate_limits_count_what_reaches_it_through_the_virtual_server() {
    crate::testing::within(async {
        let (mut gw, key) = bundle().await;
        let mut alpha = gw
            .store
            .load()
            .route_by_slug("alpha")
            .unwrap()
            .server
            .clone();
        alpha.rate_limits =
            serde_json::from_value(json!([{"by": "key", "tools": ["echo"], "per_day": 1}]))
                .unwrap();
        alpha.version += 1;
        gw.put_server(&alpha);
        let stateless = |url: &str, tool: &str| {
            post(url, &key, call(1, tool))
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", tool)
        };
        let through = gw.url("bundle");
        assert_eq!(send(stateless(&through, "alpha__echo")).await.status, 200);
        // The budget is alpha's, whichever way the call comes.
        let refused = send(stateless(&through, "alpha__echo")).await;
        let error = refused.assert_error(429, "rate_limited");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("server `alpha`"),
            "{error}"
        );
        send(stateless(&gw.url("alpha"), "echo"))
            .await
            .assert_error(429, "rate_limited");
        assert_eq!(send(stateless(&through, "beta__echo")).await.status, 200);
        gw.stop().await;
    })
    .await;
}
