//! The README's "run it" command as a user runs it: `mcpgw-control-plane standalone` prints
//! keys and a client configuration, the demo server answers MCP through the gateway, the admin
//! API works with the printed key, and a restart keeps the data and the keys.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

struct Standalone {
    child: Child,
    banner: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts standalone mode in `dir` and reads its banner up to the curl line.
async fn start(dir: &std::path::Path, ports: (u16, u16, u16)) -> Standalone {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcpgw-control-plane"))
        .arg("standalone")
        .current_dir(dir)
        .env_remove("MCPGW_DATABASE_URL")
        .env_remove("MCPGW_SECRET_KEY")
        .env_remove("MCPGW_SESSION_KEYS")
        .env("MCPGW_LISTEN_ADDR", format!("127.0.0.1:{}", ports.0))
        .env("MCPGW_ADMIN_ADDR", format!("127.0.0.1:{}", ports.1))
        .env("MCPGW_GRPC_ADDR", format!("127.0.0.1:{}", ports.2))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start standalone");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut banner = String::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            banner.push_str(&line);
            banner.push('\n');
            if line.contains("curl -s") {
                return;
            }
        }
        panic!("standalone exited before printing its banner:\n{banner}");
    })
    .await
    .expect("the banner within 60 s");
    Standalone { child, banner }
}

fn printed_key(banner: &str, label: &str) -> Option<String> {
    banner
        .lines()
        .find(|l| l.contains(label))
        .and_then(|l| l.split_whitespace().last())
        .map(str::to_owned)
}

async fn mcp(
    url: &str,
    key: &str,
    session: Option<&str>,
    message: Value,
) -> (reqwest::StatusCode, Option<String>, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&message)
        .timeout(Duration::from_secs(10));
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status();
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, session, response.text().await.unwrap_or_default())
}

async fn call_echo(url: &str, key: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}});
    let (status, session, body) = mcp(url, key, None, init).await;
    assert_eq!(status, 200, "{body}");
    let session = session.expect("a session id");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(mcp(url, key, Some(&session), initialized).await.0, 202);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "hello through the gateway"}}});
    let (status, _, body) = mcp(url, key, Some(&session), call).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn standalone_serves_the_demo_server_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let ports = (free_port(), free_port(), free_port());
    let first = start(dir.path(), ports).await;
    let admin_key = printed_key(&first.banner, "Admin key").expect("an admin key on the first run");
    let invoke_key =
        printed_key(&first.banner, "mcp.invoke key").expect("an mcp.invoke key on the first run");
    let gateway = format!("http://127.0.0.1:{}/demo/mcp", ports.0);
    assert!(first.banner.contains(&gateway), "{}", first.banner);
    assert!(
        first.banner.contains("\"mcpServers\""),
        "a client configuration to paste"
    );

    assert!(
        call_echo(&gateway, &invoke_key)
            .await
            .contains("hello through the gateway")
    );
    let servers: Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/v1/servers", ports.1))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(servers["servers"][0]["slug"], "demo");
    let mode = std::fs::metadata(dir.path().join(".mcpgw/secret.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the generated secret key is private");

    drop(first);
    let second = start(dir.path(), ports).await;
    assert!(
        printed_key(&second.banner, "Admin key").is_none(),
        "keys are shown once"
    );
    assert!(
        call_echo(&gateway, &invoke_key)
            .await
            .contains("hello through the gateway"),
        "the key still works, on the demo server's new port"
    );
    drop(second.child);
}
