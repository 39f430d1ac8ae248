//! Every row of the error table, hostile input, and what crosses to the upstream, driven over
//! HTTP against the echo upstream.

use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use mcpgw_shared::model::Permission;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::http::{call, initialize, post, send, setup, setup_with_tools};
use crate::testing::harness::Harness;
use crate::testing::{echo_upstream, invoke_key};

#[tokio::test]
async fn credentials_are_checked_first_and_never_forwarded() {
    crate::testing::within(async {
        let (mut gw, _, key) = setup().await;
        let url = gw.url("echo");
        let missing = send(reqwest::Client::new().post(&url).json(&call(1, "x"))).await;
        missing.assert_error(401, "missing_credential");
        assert!(
            missing.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        send(post(
            &url,
            "mcpgw_nosuchkey_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            call(1, "x"),
        ))
        .await
        .assert_error(401, "invalid_credential");
        let in_query = send(
            reqwest::Client::new()
                .post(format!("{url}?api_key={key}"))
                .json(&call(1, "x")),
        )
        .await;
        in_query.assert_error(401, "missing_credential");

        let (cred, mut revoked) = invoke_key(gw.workspace);
        revoked.revoked = true;
        gw.put_key(&revoked);
        let answer = send(post(&url, &cred.expose(), call(7, "x"))).await;
        let json = answer.assert_error(401, "key_revoked");
        assert_eq!(json["id"], Value::Null, "auth runs before the body is read");

        let (admin, admin_record) = crate::testing::key(Some(gw.workspace), &[Permission::Admin]);
        gw.put_key(&admin_record);
        send(post(&url, &admin.expose(), call(1, "x")))
            .await
            .assert_error(403, "missing_permission");
        let (foreign, foreign_record) = invoke_key(mcpgw_shared::WorkspaceId::new());
        gw.put_key(&foreign_record);
        send(post(&url, &foreign.expose(), call(1, "x")))
            .await
            .assert_error(403, "not_provisioned");
        let (expired, mut expired_record) = invoke_key(gw.workspace);
        expired_record.expires_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
        gw.put_key(&expired_record);
        send(post(&url, &expired.expose(), call(1, "x")))
            .await
            .assert_error(401, "key_expired");
        let mut disabled = crate::testing::server("off", gw.workspace, "http://127.0.0.1:9/mcp");
        disabled.enabled = false;
        gw.put_server(&disabled);
        send(post(&gw.url("off"), &key, call(1, "x")))
            .await
            .assert_error(403, "server_disabled");
        send(post(&gw.url("nosuch"), &key, call(1, "x")))
            .await
            .assert_error(404, "unknown_server");

        let relayed = send(
            post(&url, &key, call(1, "echo"))
                .header("x-mcpgw-api-key", &key)
                .header("cookie", "a=b"),
        )
        .await;
        assert_eq!(relayed.status, 200, "{}", relayed.text);
        let seen = &relayed.json()["result"]["headers"];
        for never in ["authorization", "x-mcpgw-api-key", "cookie"] {
            assert!(
                seen.get(never).is_none(),
                "{never} reached the upstream: {seen}"
            );
        }
        assert!(seen.get("x-request-id").is_some());
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn bodies_reach_the_upstream_byte_for_byte_with_its_auth_headers() {
    crate::testing::within(async {
        let (mut gw, upstream, key) = setup().await;
        let mut server = crate::testing::server("authed", gw.workspace, &upstream);
        server.auth = mcpgw_shared::model::UpstreamAuth::Headers {
            headers: [(
                "X-Upstream-Key".to_owned(),
                mcpgw_shared::Redacted::new("s3cret".to_owned()),
            )]
            .into(),
        };
        gw.put_server(&server);
        let raw = r#"{ "jsonrpc":"2.0", "id":"α", "method":"tools/call", "params":{"name":"echo","arguments":{"z":1,"a":[1.50,2e3]},"_meta":{"x-unknown":true}}, "extension":{"kept":null} }"#;
        let answer = send(
            reqwest::Client::new()
                .post(gw.url("authed"))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .header("mcp-param-region", "eu")
                .header("x-not-forwarded", "1")
                .body(raw),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let json = answer.json();
        assert_eq!(json["id"], "α");
        assert_eq!(
            json["result"]["body"], raw,
            "the body is forwarded unchanged"
        );
        let seen = &json["result"]["headers"];
        assert_eq!(seen["x-upstream-key"], "s3cret");
        assert_eq!(seen["mcp-param-region"], "eu");
        assert!(seen.get("x-not-forwarded").is_none());
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn malformed_oversized_and_batched_bodies_are_refused_with_4xx() {
    crate::testing::within(async {
        let (gw, _, key) = setup().await;
        let url = gw.url("echo");
        let http = reqwest::Client::new();
        let send_raw = |body: &'static str| {
            http.post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(body)
        };
        send(send_raw("{not json"))
            .await
            .assert_error(400, "parse_error");
        send(send_raw(r#"{"id":1,"method":"x"}"#))
            .await
            .assert_error(400, "invalid_request");
        send(send_raw("[]"))
            .await
            .assert_error(400, "invalid_request");
        let batch =
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]"#;
        send(send_raw(batch))
            .await
            .assert_error(400, "batch_not_allowed");
        let big = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"x":"y".repeat(5000)}}});
        send(post(&url, &key, big))
            .await
            .assert_error(413, "body_too_large");
        let chunked = reqwest::Body::wrap_stream(futures::stream::iter(
            (0..10).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 1000]))),
        ));
        send(http.post(&url).bearer_auth(&key).body(chunked))
            .await
            .assert_error(413, "body_too_large");
        let bad_version =
            post(&url, &key, call(3, "echo")).header("mcp-protocol-version", "2030-01-01");
        let json = send(bad_version)
            .await
            .assert_error(400, "unsupported_protocol_version");
        assert_eq!(json["error"]["code"], -32022);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn batches_pass_only_in_sessions_negotiated_at_2025_03_26() {
    crate::testing::within(async {
        let (gw, _, key) = setup().await;
        let url = gw.url("echo");
        let batch =
            json!([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]);
        let old = initialize(&gw, &key, "2025-03-26").await;
        let relayed = send(post(&url, &key, batch.clone()).header("mcp-session-id", &old)).await;
        assert_eq!(relayed.status, 200, "{}", relayed.text);
        let newer = initialize(&gw, &key, "2025-06-18").await;
        let refused = post(&url, &key, batch.clone())
            .header("mcp-session-id", &newer)
            .header("mcp-protocol-version", "2025-06-18");
        send(refused).await.assert_error(400, "batch_not_allowed");
        let modern = post(&url, &key, batch).header("mcp-protocol-version", "2026-07-28");
        send(modern).await.assert_error(400, "batch_not_allowed");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn stateless_routing_headers_are_checked_and_upstream_400s_relayed_unchanged() {
    crate::testing::within(async {
        let (gw, _, key) = setup().await;
        let url = gw.url("echo");
        let modern = |body: Value, method: &str, name: Option<&str>| {
            let mut r = post(&url, &key, body)
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", method);
            if let Some(name) = name {
                r = r.header("mcp-name", name);
            }
            r
        };
        let json = send(modern(call(4, "echo"), "tools/call", Some("other")))
            .await
            .assert_error(400, "header_mismatch");
        assert_eq!(json["error"]["code"], -32020);
        assert_eq!(json["id"], 4);
        send(modern(call(4, "echo"), "tools/list", Some("echo")))
            .await
            .assert_error(400, "header_mismatch");
        send(modern(call(4, "echo"), "tools/call", None))
            .await
            .assert_error(400, "header_mismatch");
        let ok = send(
            modern(call(4, "echo"), "tools/call", Some("echo")).header("mcp-session-id", "ignored"),
        )
        .await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert!(
            ok.json()["result"]["headers"]
                .get("mcp-session-id")
                .is_none(),
            "no session in the stateless era"
        );
        let failing = json!({"jsonrpc":"2.0","id":5,"method":"fail/400"});
        let relayed = send(modern(failing, "fail/400", None)).await;
        assert_eq!(
            (relayed.status.as_u16(), relayed.text.as_str()),
            (400, r#"{"upstream":"400"}"#)
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn sessions_that_are_forged_foreign_stale_or_forgotten_answer_404() {
    crate::testing::within(async {
        let (mut gw, _, key) = setup().await;
        let url = gw.url("echo");
        let session = initialize(&gw, &key, "2025-11-25").await;
        assert_ne!(
            session, "up-1",
            "the upstream's session id never reaches the client"
        );
        let ok = send(post(&url, &key, call(1, "echo")).header("mcp-session-id", &session)).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert_eq!(ok.json()["result"]["headers"]["mcp-session-id"], "up-1");

        send(post(&url, &key, call(1, "echo")).header("mcp-session-id", "s1.test.Zm9yZ2Vk"))
            .await
            .assert_error(404, "unknown_session");
        let (other, other_record) = invoke_key(gw.workspace);
        gw.put_key(&other_record);
        send(post(&url, &other.expose(), call(1, "echo")).header("mcp-session-id", &session))
            .await
            .assert_error(404, "unknown_session");

        let mut server = gw
            .store
            .load()
            .route_by_slug("echo")
            .unwrap()
            .server
            .clone();
        server.url = format!("{}?moved", server.url);
        server.connection_version += 1;
        server.version += 1;
        gw.put_server(&server);
        send(post(&url, &key, call(1, "echo")).header("mcp-session-id", &session))
            .await
            .assert_error(404, "unknown_session");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_upstream_that_forgot_the_session_answers_404() {
    crate::testing::within(async {
        let upstream = crate::demo_upstream::DemoUpstream::spawn().await.unwrap();
        let mut gw = Harness::start().await;
        gw.add_server("demo", &upstream.url());
        let (key, _) = gw.add_invoke_key();
        let url = gw.url("demo");
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
        let answer = send(post(&url, &key, init)).await;
        let session = answer.headers["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let deleted = send(
            reqwest::Client::new()
                .delete(&url)
                .bearer_auth(&key)
                .header("mcp-session-id", &session),
        )
        .await;
        assert!(
            deleted.status.is_success(),
            "{} {}",
            deleted.status,
            deleted.text
        );
        let again = post(&url, &key, call(1, "echo"))
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25");
        send(again).await.assert_error(404, "unknown_session");
        gw.stop().await;
        upstream.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn upstream_failures_name_the_server_never_its_url_with_502_and_504() {
    crate::testing::within(async {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_url = format!("http://{}/mcp?api_key=hush", silent.local_addr().unwrap());
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_url = format!("http://{}/mcp", closed.local_addr().unwrap());
        drop(closed);
        let upstream = echo_upstream::spawn().await;
        let mut gw = Harness::start_with(|s| s.upstream_timeout = Duration::from_millis(300)).await;
        gw.add_server("silent", &silent_url);
        gw.add_server("closed", &closed_url);
        gw.add_server("echo", &upstream);
        let (key, _) = gw.add_invoke_key();
        let json = send(post(&gw.url("silent"), &key, call(1, "x")))
            .await
            .assert_error(504, "upstream_timeout");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains("`silent`"), "{json}");
        assert!(!json.to_string().contains("127.0.0.1"), "{json}");
        assert!(!json.to_string().contains("hush"), "{json}");
        let json = send(post(&gw.url("closed"), &key, call(1, "x")))
            .await
            .assert_error(502, "upstream_unreachable");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains("`closed`"), "{json}");
        assert!(!message.contains(&closed_url), "{json}");
        let fail = |status: &str| json!({"jsonrpc":"2.0","id":1,"method":format!("fail/{status}")});
        send(post(&gw.url("echo"), &key, fail("500")))
            .await
            .assert_error(502, "upstream_failed");
        let json = send(post(&gw.url("echo"), &key, fail("401")))
            .await
            .assert_error(502, "upstream_auth_failed");
        assert!(!json.to_string().contains("www-authenticate"));
        drop(silent);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    crate::testing::within(async {
        let (gw, _, key) = setup().await;
        let url = gw.url("echo");
        let evil_host = post(&url, &key, call(1, "echo")).header("host", "evil.example");
        send(evil_host).await.assert_error(403, "host_not_allowed");
        let evil_origin = post(&url, &key, call(1, "echo")).header("origin", "http://evil.example");
        send(evil_origin)
            .await
            .assert_error(403, "origin_not_allowed");
        let unauthenticated = reqwest::Client::new()
            .post(&url)
            .header("host", "evil.example")
            .json(&call(1, "x"));
        send(unauthenticated)
            .await
            .assert_error(403, "host_not_allowed");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_filtered_tools_list_over_sse_keeps_every_other_event_and_field() {
    crate::testing::within(async {
        let (gw, key) = setup_with_tools(json!({"deny": ["secret"]})).await;
        let list = json!({"jsonrpc":"2.0","id":9,"method":"tools/list"});
        let answer = send(post(&gw.url("echo"), &key, list)).await;
        assert_eq!(answer.status, 200);
        assert!(
            answer.text.starts_with(
                "id: e1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\""
            ),
            "{}",
            answer.text
        );
        assert!(
            answer.text.contains("id: e2\nevent: message\ndata: "),
            "{}",
            answer.text
        );
        assert!(
            answer.text.contains(r#""name":"echo""#) && answer.text.contains(r#""x-kept":1"#),
            "{}",
            answer.text
        );
        assert!(!answer.text.contains("secret"), "{}", answer.text);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn without_a_configuration_the_gateway_answers_503() {
    crate::testing::within(async {
        let (store, _updater) = crate::snapshot::ConfigStore::new();
        let keys = mcpgw_shared::secret::Keyring::parse(&format!(
            "k:{}",
            mcpgw_shared::secret::generate_base64_key()
        ))
        .unwrap();
        let settings = crate::Settings::new("127.0.0.1:0".parse().unwrap(), keys);
        let router = crate::Gateway::new(store, &settings).unwrap().router();
        let request = Request::post("/demo/mcp")
            .header("host", "localhost")
            .body(Body::from(call(1, "x").to_string()))
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key("x-request-id"));
    })
    .await;
}

#[tokio::test]
async fn forwarded_hosts_count_only_from_trusted_proxies_over_the_wire() {
    crate::testing::within(async {
        let upstream = echo_upstream::spawn().await;
        let public = url::Url::parse("https://mcp.example.com").unwrap();
        for (trusted, expected) in [(vec!["127.0.0.1".to_owned()], 200), (vec![], 403)] {
            let public = public.clone();
            let mut gw = Harness::start_with(move |s| {
                s.public_base_url = Some(public);
                s.trusted_proxies = crate::config::CommaList(trusted);
            })
            .await;
            gw.add_server("echo", &upstream);
            let (key, _) = gw.add_invoke_key();
            let request = post(&gw.url("echo"), &key, call(1, "echo"))
                .header("host", "pod-7.internal:8080")
                .header("x-forwarded-host", "mcp.example.com");
            let answer = send(request).await;
            assert_eq!(answer.status.as_u16(), expected, "{}", answer.text);
            gw.stop().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_per_user_server_on_a_pod_without_a_token_key_says_what_the_operator_must_set() {
    crate::testing::within(async {
        let (mut gw, upstream, _) = setup().await;
        let mut server = gw.add_server("files", &upstream);
        server.auth = mcpgw_shared::model::UpstreamAuth::Oauth2 {
            oauth_metadata: None,
        };
        server.version += 1;
        gw.put_server(&server);
        let (credential, mut record) = crate::testing::invoke_key(server.workspace_id);
        record.key_type = mcpgw_shared::model::KeyType::User;
        record.user_id = Some("alice".into());
        gw.put_key(&record);
        let answer = send(post(
            &gw.url("files"),
            &credential.expose(),
            call(1, "echo"),
        ))
        .await;
        let json = answer.assert_error(503, "token_key_missing");
        let hint = json["error"]["data"]["hint"].as_str().unwrap();
        assert!(hint.contains("MCPGW_TOKEN_KEY"), "{hint}");
        gw.stop().await;
    })
    .await;
}
