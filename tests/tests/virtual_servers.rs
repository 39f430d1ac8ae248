//! Virtual servers with real processes: a control plane, a data plane, two upstreams (the
//! rmcp demo server and the conformance suite's reference server), and a member that is down.
//! Fail open lists the others' tools and names the failing member; fail closed refuses naming
//! it; a session outlives a change of the member set and hears `list_changed`; the 2026-07-28
//! era works too.

use std::time::Duration;

use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::conformance_upstream::ConformanceUpstream;
use mcpgw_e2e::fleet::{Fleet, eventually};
use mcpgw_e2e::mcp_client::{McpClient, StreamEvent};
use mcpgw_e2e::nats::PrivateNats;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(15);

fn tool_names(answer: &Value) -> Vec<String> {
    answer["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("a listing: {answer}"))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_server_bundles_its_members_and_fails_open_or_closed_as_each_says() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let demo = DemoUpstream::spawn().await.expect("demo upstream");
    let reference = ConformanceUpstream::spawn().await;
    let workspace = fleet.workspace("bundles").await;
    let server = |slug: &str, url: &str| json!({"workspace_id": workspace, "slug": slug, "name": slug, "url": url, "auth": {"type": "none"}});
    fleet
        .create("/v1/servers", server("demo", &demo.url()))
        .await;
    fleet
        .create("/v1/servers", server("reference", &reference.url()))
        .await;
    // Nothing listens on the discard port.
    fleet
        .create("/v1/servers", server("down", "http://127.0.0.1:9/mcp"))
        .await;

    // Members must be servers this workspace reaches.
    let (status, body) = fleet
        .admin(
            Method::POST,
            "/v1/servers",
            Some(
                json!({"workspace_id": workspace, "slug": "bad", "name": "Bad",
                "virtual_server": {"members": [{"server": "nowhere"}]}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string()
            .contains("virtual_server.members[0].server"),
        "{body}"
    );
    let bundle = fleet
        .create(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "bundle", "name": "Bundle",
            "virtual_server": {"prefix": "on_conflict", "members": [
                {"server": "demo"},
                {"server": "reference"},
                {"server": "down", "on_failure": "open"},
            ]}}),
        )
        .await;
    assert_eq!(
        bundle["virtual_server"]["members"][2]["on_failure"], "open",
        "{bundle}"
    );
    let key = fleet
        .create("/v1/api-keys", invoke_key_request(&workspace, "agent"))
        .await;
    let token = fleet.data_plane_token(None).await;
    let pod = fleet.data_plane(&token, &[]).await;
    pod.wait_applied(fleet.head().await, SOON).await;
    let client = McpClient::new(pod.mcp_url("bundle"), key["key"].as_str().unwrap());

    // Session era: the gateway is the server; both live members' tools (no name is shared, so
    // none is prefixed); the down member named in `_meta`.
    let session = client.initialize().await;
    let listed = client.list_tools(&session).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let names = tool_names(&listed.body);
    for expected in ["echo", "add", "current_time", "test_simple_text"] {
        assert!(
            names.contains(&expected.to_owned()),
            "{expected} in {names:?}"
        );
    }
    let failed = &listed.body["result"]["_meta"]["io.mcpgw/failed_members"];
    assert_eq!(failed[0]["server"], "down", "{failed}");
    assert_eq!(failed[0]["reason"], "upstream_unreachable", "{failed}");

    // A call reaches the member that listed the name, by the member's own name.
    let call = |id: i64, name: &str, arguments: Value| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments}});
    let added = client
        .post(call(2, "add", json!({"a": 2, "b": 3})), Some(&session))
        .await;
    assert_eq!(added.body["id"], 2, "{:?}", added.body);
    assert_eq!(
        added.body["result"]["content"][0]["text"], "5",
        "{:?}",
        added.body
    );
    let simple = client
        .post(call(3, "test_simple_text", json!({})), Some(&session))
        .await;
    assert!(
        simple.body["result"]["content"][0]["text"].is_string(),
        "{:?}",
        simple.body
    );
    let unknown = client
        .post(call(4, "nope", json!({})), Some(&session))
        .await;
    assert_eq!(unknown.body["error"]["code"], -32602, "{:?}", unknown.body);

    // Fail closed: the down member fails the listing, naming it.
    let mut stream = client.open_stream(&session).await;
    let path = format!("/v1/servers/{}", bundle["id"].as_str().unwrap());
    let members = |down: &str| {
        json!({"virtual_server": {"prefix": "on_conflict", "members": [
            {"server": "demo"}, {"server": "reference"}, {"server": "down", "on_failure": down}]}})
    };
    let (status, body) = fleet
        .admin(Method::PATCH, &path, Some(members("closed")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    match stream.next(SOON).await {
        StreamEvent::Message(message) => {
            assert_eq!(message["method"], "notifications/tools/list_changed")
        }
        StreamEvent::Closed => panic!("the session's stream closed instead of announcing"),
    }
    let refused = client.list_tools(&session).await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_GATEWAY,
        "{:?}",
        refused.body
    );
    let error = &refused.body["error"];
    assert_eq!(error["data"]["reason"], "member_failed", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("virtual server `bundle`: its member `down` failed"),
        "{error}"
    );

    // A changed member set: the same session goes on, with the new members' tools.
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"virtual_server": {"prefix": "always", "members": [{"server": "demo"}]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    match stream.next(SOON).await {
        StreamEvent::Message(message) => {
            assert_eq!(message["method"], "notifications/tools/list_changed")
        }
        StreamEvent::Closed => panic!("the session's stream closed on a member change"),
    }
    eventually(SOON, "the session lists the new member set", || async {
        let listed = client.list_tools(&session).await;
        listed.status == StatusCode::OK
            && tool_names(&listed.body)
                .iter()
                .all(|n| n.starts_with("demo__"))
    })
    .await;

    // The 2026-07-28 era: no session; discovery, listing and calls.
    let discovered = client
        .post_stateless(
            json!({"jsonrpc": "2.0", "id": 5, "method": "server/discover", "params": {}}),
        )
        .await;
    assert_eq!(
        discovered.body["result"]["supportedVersions"],
        json!(["2026-07-28"]),
        "{:?}",
        discovered.body
    );
    let listed = client
        .post_stateless(json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list", "params": {}}))
        .await;
    assert!(
        tool_names(&listed.body).contains(&"demo__add".to_owned()),
        "{:?}",
        listed.body
    );
    assert_eq!(listed.body["result"]["resultType"], "complete");
}
