//! Hostile input at the edge, one table across both protocol eras, against a data-plane
//! process: forged, tampered, replayed and expired session ids; oversized bodies and headers;
//! JSON-RPC batches; headers that contradict the body; slugs with path tricks; `Host` and
//! `Origin` rebinding. Each gets a clear 4xx (a JSON-RPC error with a reason and a request id
//! where the gateway answers at all), and none leaves a trace in the control plane's state.
//!
//! Requests are written by hand on a TCP socket, so nothing normalises a path or drops a
//! duplicate header on the way.

use std::time::Duration;

use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::fleet::Fleet;
use mcpgw_e2e::mcp_client::McpClient;
use mcpgw_e2e::nats::PrivateNats;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SOON: Duration = Duration::from_secs(20);
/// The pod's `MCPGW_SESSION_MAX_AGE`.
const SESSION_MAX_AGE: Duration = Duration::from_secs(3);
/// The pod's `MCPGW_MAX_BODY_BYTES`.
const MAX_BODY: usize = 64 * 1024;
const SESSIONS: &str = "2025-11-25";
const STATELESS: &str = "2026-07-28";

/// One hostile request and what it must get.
struct Case {
    name: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    status: u16,
    /// The error's `data.reason`; `None` where the HTTP server refuses before the gateway
    /// reads the request (oversized headers).
    reason: Option<&'static str>,
}

/// An answer read off the socket.
struct Raw {
    status: u16,
    body: String,
}

/// Sends `case` as written and reads the whole answer.
async fn send(addr: &str, case: &Case) -> Raw {
    let mut request = format!("POST {} HTTP/1.1\r\n", case.path);
    for (name, value) in &case.headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        case.body.len()
    ));
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    socket.write_all(request.as_bytes()).await.expect("write");
    // The gateway may answer (and close) before it reads an oversized body.
    let _ = socket.write_all(&case.body).await;
    let mut answer = Vec::new();
    tokio::time::timeout(SOON, socket.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .ok();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{}: no status line in {text:?}", case.name));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Raw { status, body }
}

fn call(tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": tool, "arguments": {"message": "hi"}}})
}

/// The headers of a well-formed request of `era` with `key` to `host`.
fn headers(host: &str, key: &str, era: &str) -> Vec<(String, String)> {
    vec![
        ("host".into(), host.into()),
        ("authorization".into(), format!("Bearer {key}")),
        ("content-type".into(), "application/json".into()),
        (
            "accept".into(),
            "application/json, text/event-stream".into(),
        ),
        ("mcp-protocol-version".into(), era.into()),
    ]
}

/// `headers` of a stateless `tools/call` of `echo`, which the era asks to name in headers.
fn stateless(host: &str, key: &str) -> Vec<(String, String)> {
    let mut h = headers(host, key, STATELESS);
    h.push(("mcp-method".into(), "tools/call".into()));
    h.push(("mcp-name".into(), "echo".into()));
    h
}

fn with(mut headers: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    headers.push((name.into(), value.into()));
    headers
}

/// A session id with one character changed (still base64url).
fn tampered(session: &str) -> String {
    let mut chars: Vec<char> = session.chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// The control plane's state as an admin reads it.
async fn state(fleet: &Fleet) -> Value {
    let mut out = json!({"head": fleet.head().await});
    for path in ["/v1/workspaces", "/v1/servers", "/v1/api-keys"] {
        out[path] = fleet.admin(Method::GET, path, None).await.1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_at_the_edge_gets_a_clear_4xx_and_leaves_no_trace() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");
    let home = fleet.workspace("home").await;
    let away = fleet.workspace("away").await;
    let server = |workspace: &str, slug: &str| {
        json!({"workspace_id": workspace, "slug": slug, "name": slug,
               "url": upstream.url(), "auth": {"type": "none"}})
    };
    fleet.create("/v1/servers", server(&home, "demo")).await;
    fleet.create("/v1/servers", server(&home, "other")).await;
    let away_server = fleet.create("/v1/servers", server(&away, "away")).await;
    let (status, body) = fleet
        .admin(
            Method::PATCH,
            &format!("/v1/servers/{}", away_server["id"].as_str().unwrap()),
            Some(json!({"provisioned_workspaces": [home]})),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let secret = |key: Value| key["key"].as_str().unwrap().to_owned();
    let key = secret(
        fleet
            .create("/v1/api-keys", invoke_key_request(&home, "a"))
            .await,
    );
    let sibling = secret(
        fleet
            .create("/v1/api-keys", invoke_key_request(&home, "b"))
            .await,
    );
    let stranger = secret(
        fleet
            .create("/v1/api-keys", invoke_key_request(&away, "c"))
            .await,
    );
    let token = fleet.data_plane_token(None).await;
    let pod = fleet
        .data_plane(
            &token,
            &[
                (
                    "MCPGW_SESSION_MAX_AGE",
                    format!("{}s", SESSION_MAX_AGE.as_secs()),
                ),
                ("MCPGW_MAX_BODY_BYTES", MAX_BODY.to_string()),
            ],
        )
        .await;
    pod.wait_applied(fleet.head().await, SOON).await;
    let addr = pod.url().trim_start_matches("http://").to_owned();
    let host = addr.as_str();
    let before = state(&fleet).await;

    let demo = McpClient::new(pod.mcp_url("demo"), &key);
    let expiring = demo.initialize().await;
    tokio::time::sleep(SESSION_MAX_AGE + Duration::from_secs(1)).await;
    let session = demo.initialize().await;
    let strangers = McpClient::new(pod.mcp_url("away"), &stranger)
        .initialize()
        .await;
    let body = |v: Value| v.to_string().into_bytes();
    let in_session =
        |key: &str, session: &str| with(headers(host, key, SESSIONS), "mcp-session-id", session);
    let confusable = "/d\u{0435}mo/mcp"
        .bytes()
        .map(|b| {
            if b.is_ascii() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect::<String>();

    let cases = vec![
        // Session ids (2025-11-25).
        Case {
            name: "forged session id",
            path: "/demo/mcp".into(),
            headers: in_session(&key, "mcpgw-forged-session"),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_session"),
        },
        Case {
            name: "tampered session id",
            path: "/demo/mcp".into(),
            headers: in_session(&key, &tampered(&session)),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_session"),
        },
        Case {
            name: "session of another key",
            path: "/demo/mcp".into(),
            headers: in_session(&sibling, &session),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_session"),
        },
        Case {
            name: "session of another server",
            path: "/other/mcp".into(),
            headers: in_session(&key, &session),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_session"),
        },
        Case {
            name: "session of another workspace's key",
            path: "/away/mcp".into(),
            headers: in_session(&key, &strangers),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_session"),
        },
        // Sizes.
        Case {
            name: "oversized body (sessions)",
            path: "/demo/mcp".into(),
            headers: in_session(&key, &session),
            body: vec![b' '; MAX_BODY + 1],
            status: 413,
            reason: Some("body_too_large"),
        },
        Case {
            name: "oversized body (stateless)",
            path: "/demo/mcp".into(),
            headers: stateless(host, &key),
            body: vec![b' '; MAX_BODY + 1],
            status: 413,
            reason: Some("body_too_large"),
        },
        Case {
            name: "oversized headers",
            path: "/demo/mcp".into(),
            headers: with(stateless(host, &key), "x-padding", &"a".repeat(1024 * 1024)),
            body: body(call("echo")),
            status: 431,
            reason: None,
        },
        // Batches.
        Case {
            name: "batch (sessions)",
            path: "/demo/mcp".into(),
            headers: in_session(&key, &session),
            body: body(json!([call("echo"), call("echo")])),
            status: 400,
            reason: Some("batch_not_allowed"),
        },
        Case {
            name: "batch (stateless)",
            path: "/demo/mcp".into(),
            headers: stateless(host, &key),
            body: body(json!([call("echo")])),
            status: 400,
            reason: Some("batch_not_allowed"),
        },
        // Headers that contradict the body (2026-07-28).
        Case {
            name: "Mcp-Method contradicts the body",
            path: "/demo/mcp".into(),
            headers: with(headers(host, &key, STATELESS), "mcp-method", "tools/list"),
            body: body(call("echo")),
            status: 400,
            reason: Some("header_mismatch"),
        },
        Case {
            name: "Mcp-Name contradicts the body",
            path: "/demo/mcp".into(),
            headers: with(
                with(headers(host, &key, STATELESS), "mcp-method", "tools/call"),
                "mcp-name",
                "delete_everything",
            ),
            body: body(call("echo")),
            status: 400,
            reason: Some("header_mismatch"),
        },
        Case {
            name: "Mcp-Method twice",
            path: "/demo/mcp".into(),
            headers: with(stateless(host, &key), "mcp-method", "tools/call"),
            body: body(call("echo")),
            status: 400,
            reason: Some("duplicate_header"),
        },
        Case {
            name: "unsupported protocol version",
            path: "/demo/mcp".into(),
            headers: headers(host, &key, "1999-01-01"),
            body: body(call("echo")),
            status: 400,
            reason: Some("unsupported_protocol_version"),
        },
        // Slugs with path tricks.
        Case {
            name: "dot-dot segment",
            path: "/../demo/mcp".into(),
            headers: stateless(host, &key),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_path"),
        },
        Case {
            name: "encoded dot-dot slug",
            path: "/%2e%2e/mcp".into(),
            headers: stateless(host, &key),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_server"),
        },
        Case {
            name: "encoded slash in the slug",
            path: "/other%2f..%2fdemo/mcp".into(),
            headers: stateless(host, &key),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_server"),
        },
        Case {
            name: "extra segment",
            path: "/demo/mcp/../../other/mcp".into(),
            headers: stateless(host, &key),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_path"),
        },
        Case {
            name: "confusable slug (Cyrillic e)",
            path: confusable,
            headers: stateless(host, &key),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_server"),
        },
        Case {
            name: "upper-case slug",
            path: "/DEMO/mcp".into(),
            headers: stateless(host, &key),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_server"),
        },
        // Host and Origin rebinding.
        Case {
            name: "foreign Host",
            path: "/demo/mcp".into(),
            headers: stateless("evil.example", &key),
            body: body(call("echo")),
            status: 403,
            reason: Some("host_not_allowed"),
        },
        Case {
            name: "rebinding Host naming loopback",
            path: "/demo/mcp".into(),
            headers: stateless("127.0.0.1.evil.example", &key),
            body: body(call("echo")),
            status: 403,
            reason: Some("host_not_allowed"),
        },
        Case {
            name: "foreign Origin",
            path: "/demo/mcp".into(),
            headers: with(stateless(host, &key), "origin", "http://evil.example"),
            body: body(call("echo")),
            status: 403,
            reason: Some("origin_not_allowed"),
        },
        Case {
            name: "Origin naming loopback inside a foreign name",
            path: "/demo/mcp".into(),
            headers: with(
                stateless(host, &key),
                "origin",
                "http://127.0.0.1.evil.example",
            ),
            body: body(call("echo")),
            status: 403,
            reason: Some("origin_not_allowed"),
        },
        Case {
            name: "opaque Origin (null)",
            path: "/demo/mcp".into(),
            headers: with(stateless(host, &key), "origin", "null"),
            body: body(call("echo")),
            status: 403,
            reason: Some("origin_not_allowed"),
        },
        Case {
            name: "forwarded Host from an untrusted peer",
            path: "/demo/mcp".into(),
            headers: with(stateless("evil.example", &key), "x-forwarded-host", host),
            body: body(call("echo")),
            status: 403,
            reason: Some("host_not_allowed"),
        },
        Case {
            name: "expired session id",
            path: "/demo/mcp".into(),
            headers: in_session(&key, &expiring),
            body: body(call("echo")),
            status: 404,
            reason: Some("unknown_session"),
        },
    ];

    let mut failures = Vec::new();
    for case in &cases {
        let answer = send(host, case).await;
        let json: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let reason = json["error"]["data"]["reason"].as_str();
        let ok = answer.status == case.status
            && match case.reason {
                Some(expected) => {
                    reason == Some(expected) && json["error"]["data"]["request_id"].is_string()
                }
                None => true,
            };
        println!(
            "{:<42} {} {}",
            case.name,
            answer.status,
            reason.unwrap_or("-")
        );
        if !ok {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {}",
                case.name, case.status, case.reason, answer.status, answer.body
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // A well-formed request still works, and the control plane's state is as it was.
    let ok = send(
        host,
        &Case {
            name: "well-formed",
            path: "/demo/mcp".into(),
            headers: in_session(&key, &session),
            body: body(call("echo")),
            status: 200,
            reason: None,
        },
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        state(&fleet).await,
        before,
        "the control plane's state changed"
    );
}
