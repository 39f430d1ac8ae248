//! Hostile requests of the data-plane review, each driven over HTTP as a client would send it,
//! with the answer it must get (the README's table of hostile inputs).

use std::time::Duration;

use futures::StreamExt;
use mcpgw_shared::WorkspaceId;
use mcpgw_shared::model::Permission;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use super::http::{WAIT, initialize, listen, post, send, setup, setup_with_tools};
use crate::config::CommaList;
use crate::testing::harness::Harness;
use crate::testing::{echo_upstream, invoke_key};

/// A gateway in front of the echo upstream whose server `echo` denies the tool `echo`.
async fn denying() -> (Harness, String) {
    setup_with_tools(json!({"deny": ["echo", "secret"]})).await
}

fn raw_post(gw: &Harness, key: &str, body: &'static str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(gw.url("echo"))
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body)
}

#[tokio::test]
async fn a_denied_tool_cannot_be_reached_by_an_ill_formed_message() {
    crate::testing::within(async {
        let (gw, key) = denying().await;
        // The request of the review: an extra ill-typed field made the name unreadable.
        let sneaky = raw_post(
            &gw,
            &key,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","protocolVersion":0}}"#,
        );
        let answer = send(sneaky).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let json = answer.json();
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Unknown tool: echo"),
            "{json}"
        );
        assert!(json.get("result").is_none(), "the upstream was not reached: {json}");

        let cases: [(&'static str, u16, &str); 9] = [
            (r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"echo"}}"#, 400, "invalid_request"),
            (r#"{"jsonrpc":"2.0","id":1.0,"method":"tools/call","params":{"name":"echo"}}"#, 400, "invalid_request"),
            (r#"{"jsonrpc":"2.0","id":1e0,"method":"tools/call","params":{"name":"echo"}}"#, 400, "invalid_request"),
            (r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo"}}"#, 400, "invalid_request"),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok","name":"echo"}}"#, 400, "invalid_params"),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["echo"]}}"#, 400, "invalid_params"),
            (r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["echo"]}"#, 400, "invalid_params"),
            (r#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"echo"}}"#, 400, "invalid_request"),
            (r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}]"#, 400, "batch_not_allowed"),
        ];
        for (body, status, reason) in cases {
            let json = send(raw_post(&gw, &key, body))
                .await
                .assert_error(status, reason);
            assert!(json.get("result").is_none(), "{body}");
        }
        let params = send(raw_post(
            &gw,
            &key,
            r#"{"jsonrpc":"2.0","id":"p","method":"tools/call","params":{"name":7}}"#,
        ))
        .await
        .assert_error(400, "invalid_params");
        assert_eq!(params["error"]["code"], -32602);
        assert_eq!(params["id"], "p", "answered with the request's id");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_filtered_listing_is_filtered_whatever_its_id_and_when_replayed() {
    crate::testing::within(async {
        let (gw, key) = denying().await;
        let list =
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"float-id"}});
        let answer = send(post(&gw.url("echo"), &key, list)).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert!(
            answer.text.contains(r#""id":1.0"#),
            "the upstream respelled the id: {}",
            answer.text
        );
        assert!(!answer.text.contains("secret"), "{}", answer.text);

        let session = initialize(&gw, &key, "2025-11-25").await;
        let resumed = listen(&gw.url("echo"), &key, &session)
            .header("last-event-id", "e1")
            .send()
            .await
            .unwrap();
        assert_eq!(resumed.status(), 200);
        let mut stream = resumed.bytes_stream();
        let replay = timeout(WAIT, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let replay = String::from_utf8_lossy(&replay);
        assert!(replay.contains(r#""tools":[]"#), "{replay}");
        assert!(
            !replay.contains("secret"),
            "the replayed answer is filtered: {replay}"
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn every_key_gets_the_answer_that_says_what_to_do() {
    crate::testing::within(async {
        let (mut gw, _, _) = setup().await;
        let url = gw.url("echo");
        let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}});
        let (admin, admin_record) = crate::testing::key(Some(gw.workspace), &[Permission::Admin]);
        gw.put_key(&admin_record);
        let json = send(post(&url, &admin.expose(), call.clone()))
            .await
            .assert_error(403, "missing_permission");
        let hint = json["error"]["data"]["hint"].as_str().unwrap();
        assert!(
            hint.contains("`mcp.invoke`") && !hint.contains("copied"),
            "{hint}"
        );
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("mcp.invoke")
        );

        let (revoked, mut revoked_record) = invoke_key(gw.workspace);
        revoked_record.revoked = true;
        gw.put_key(&revoked_record);
        let json = send(post(&url, &revoked.expose(), call.clone()))
            .await
            .assert_error(401, "key_revoked");
        assert!(
            json["error"]["data"]["hint"]
                .as_str()
                .unwrap()
                .contains("revoked")
        );

        let (expired, mut expired_record) = invoke_key(gw.workspace);
        expired_record.expires_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
        gw.put_key(&expired_record);
        let json = send(post(&url, &expired.expose(), call.clone()))
            .await
            .assert_error(401, "key_expired");
        assert!(
            json["error"]["data"]["hint"]
                .as_str()
                .unwrap()
                .contains("expired")
        );

        let (unknown, _) = invoke_key(gw.workspace);
        let json = send(post(&url, &unknown.expose(), call))
            .await
            .assert_error(401, "invalid_credential");
        assert!(
            json["error"]["data"]["hint"]
                .as_str()
                .unwrap()
                .contains("copied")
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn withdrawing_a_server_from_a_workspace_closes_that_workspaces_streams() {
    crate::testing::within(async {
        let upstream = echo_upstream::spawn().await;
        let mut gw = Harness::start().await;
        let guest = WorkspaceId::new();
        let mut server = gw.add_server("echo", &upstream);
        server.provisioned = vec![guest];
        server.version += 1;
        gw.put_server(&server);
        let (guest_credential, guest_record) = invoke_key(guest);
        let guest_key = guest_credential.expose();
        gw.put_key(&guest_record);
        let (home_key, _) = gw.add_invoke_key();
        let open = |key: String, session: String| {
            let url = gw.url("echo");
            async move {
                listen(&url, &key, &session)
                    .send()
                    .await
                    .unwrap()
                    .bytes_stream()
            }
        };
        let guest_session = initialize(&gw, &guest_key, "2025-11-25").await;
        let home_session = initialize(&gw, &home_key, "2025-11-25").await;
        let mut guest_stream = open(guest_key.clone(), guest_session).await;
        let mut home_stream = open(home_key.clone(), home_session).await;
        for stream in [&mut guest_stream, &mut home_stream] {
            assert!(timeout(WAIT, stream.next()).await.unwrap().is_some());
        }
        server.provisioned = vec![];
        server.version += 1;
        gw.put_server(&server);
        let ended = timeout(WAIT, guest_stream.next())
            .await
            .expect("ends in time");
        assert!(ended.is_none(), "the guest workspace's stream is closed");
        assert!(
            timeout(Duration::from_millis(300), home_stream.next())
                .await
                .is_err(),
            "the home workspace's stream stays open"
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn upstreams_at_internal_addresses_are_refused_unless_allowed() {
    crate::testing::within(async {
        let upstream = echo_upstream::spawn().await;
        // No MCPGW_EGRESS_ALLOW: loopback is refused like any internal address.
        let mut strict = Harness::start_with(|s| s.egress_allow = CommaList::default()).await;
        strict.add_server("echo", &upstream);
        strict.add_server(
            "metadata",
            "http://169.254.169.254/latest/meta-data?token=hush",
        );
        strict.add_server("named", &upstream.replace("127.0.0.1", "localhost"));
        let (key, _) = strict.add_invoke_key();
        let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}});
        for slug in ["echo", "metadata", "named"] {
            let json = send(post(&strict.url(slug), &key, call.clone()))
                .await
                .assert_error(502, "egress_denied");
            let text = json.to_string();
            assert!(text.contains("MCPGW_EGRESS_ALLOW"), "{text}");
            assert!(text.contains(&format!("`{slug}`")), "{text}");
            assert!(!text.contains("hush"), "{text}");
        }
        strict.stop().await;
        let (allowed, _, key) = setup().await;
        let answer = send(post(&allowed.url("echo"), &key, call)).await;
        assert_eq!(
            answer.status, 200,
            "allowed by MCPGW_EGRESS_ALLOW: {}",
            answer.text
        );
        allowed.stop().await;
    })
    .await;
}

#[tokio::test]
async fn trickled_headers_and_bodies_and_hoarded_streams_are_cut_off() {
    crate::testing::within(async {
        let upstream = echo_upstream::spawn().await;
        let mut gw = Harness::start_with(|s| {
            s.header_read_timeout = Duration::from_millis(300);
            s.body_read_timeout = Duration::from_millis(300);
            s.max_streams_per_key = 1;
        })
        .await;
        gw.add_server("echo", &upstream);
        let (key, _) = gw.add_invoke_key();

        // Slowloris: headers that never end get the connection closed.
        let mut slow = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
        slow.write_all(b"POST /echo/mcp HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let closed = timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
        assert!(
            closed.is_ok(),
            "the connection is closed after the header timeout"
        );

        // A body that trickles gets 408.
        let (mut sender, body) =
            futures::channel::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
        sender
            .try_send(Ok(bytes::Bytes::from_static(b"{\"jsonrpc\":")))
            .unwrap();
        let trickle = reqwest::Client::new()
            .post(gw.url("echo"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(body));
        send(trickle).await.assert_error(408, "body_timeout");
        drop(sender);

        // One open stream per key here: a second one gets 429.
        let session = initialize(&gw, &key, "2025-11-25").await;
        let get = || listen(&gw.url("echo"), &key, &session);
        let first = get().send().await.unwrap();
        assert_eq!(first.status(), 200);
        let mut held = first.bytes_stream();
        assert!(timeout(WAIT, held.next()).await.unwrap().is_some());
        send(get()).await.assert_error(429, "too_many_streams");
        drop(held);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn protocol_headers_follow_the_same_rules_on_every_method() {
    crate::testing::within(async {
        let (gw, _, key) = setup().await;
        let url = gw.url("echo");
        let session = initialize(&gw, &key, "2025-11-25").await;
        for method in [
            reqwest::Method::GET,
            reqwest::Method::DELETE,
            reqwest::Method::POST,
        ] {
            let request = reqwest::Client::new()
                .request(method.clone(), &url)
                .bearer_auth(&key)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "2099-01-01")
                .json(&json!({"jsonrpc":"2.0","id":1,"method":"ping"}));
            let json = send(request)
                .await
                .assert_error(400, "unsupported_protocol_version");
            assert_eq!(json["error"]["code"], -32022, "{method}");
            assert_eq!(json["error"]["data"]["requested"], "2099-01-01");
            let supported: &Vec<Value> = json["error"]["data"]["supported"].as_array().unwrap();
            assert!(supported.contains(&json!("2025-11-25")), "{method}");
        }
        // A stateless request (it names its method in a header) is offered the stateless era,
        // so the versions offered are ones the upstream's discovery names too (SEP-2575).
        let stateless = reqwest::Client::new()
            .post(&url)
            .bearer_auth(&key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "v999.0.0")
            .header("mcp-method", "tools/list")
            .json(&json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}));
        let json = send(stateless)
            .await
            .assert_error(400, "unsupported_protocol_version");
        assert_eq!(json["error"]["data"]["supported"], json!(["2026-07-28"]));
        assert_eq!(json["id"], 3, "answered with the request's id");
        let duplicated = reqwest::Client::new()
            .post(&url)
            .bearer_auth(&key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo")
            .header("mcp-name", "other")
            .json(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}));
        let json = send(duplicated).await.assert_error(400, "duplicate_header");
        assert_eq!(json["error"]["code"], -32020);

        // The echo upstream ends sessions with 202, as rmcp does; clients expect 200.
        let ended = reqwest::Client::new()
            .delete(&url)
            .bearer_auth(&key)
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .unwrap();
        assert_eq!(ended.status(), 200);
        gw.stop().await;
    })
    .await;
}
