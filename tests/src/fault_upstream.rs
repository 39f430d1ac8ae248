//! An MCP upstream that misbehaves on purpose, for the relay's fault tests. It speaks just
//! enough HTTP/1.1 by hand (no framework would let it reset a connection mid-answer or send a
//! body that never ends) and just enough MCP: `initialize` and notifications are answered
//! properly, and every other request gets the fault its URL path names.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head or body the fake reads.
const MAX_REQUEST: usize = 1024 * 1024;
/// How long a stalling answer stays silent (far beyond any timeout the tests set).
const STALL: Duration = Duration::from_secs(600);

/// What the upstream does with a request, chosen by the first segment of its URL path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Resets the connection (RST) instead of answering.
    Reset,
    /// Starts an SSE answer, sends a notification, then resets the connection.
    ResetMidStream,
    /// Starts an SSE answer, sends a notification, then goes silent with the socket open.
    StallMidStream,
    /// Starts an SSE answer whose first event's data is not JSON.
    MalformedEvent,
    /// Starts an SSE answer, sends a notification and ends the stream without the answer.
    EndsWithoutAnswer,
    /// Like `EndsWithoutAnswer`, but its events carry ids: the client may resume the stream.
    LeavesResumable,
    /// Answers `200 application/json` with a truncated JSON body.
    MalformedJson,
    /// Sends no response headers for a long time.
    Slow,
    /// Answers `200 application/json` with a body that never ends.
    EndlessJson,
    /// Starts an SSE answer with one event that never ends.
    EndlessEvent,
}

impl Fault {
    /// Every fault, in a fixed order.
    pub const ALL: [Fault; 10] = [
        Fault::Reset,
        Fault::ResetMidStream,
        Fault::StallMidStream,
        Fault::MalformedEvent,
        Fault::EndsWithoutAnswer,
        Fault::LeavesResumable,
        Fault::MalformedJson,
        Fault::Slow,
        Fault::EndlessJson,
        Fault::EndlessEvent,
    ];

    /// The URL path segment (and a slug) naming the fault.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Reset => "reset",
            Fault::ResetMidStream => "reset-mid-stream",
            Fault::StallMidStream => "stall-mid-stream",
            Fault::MalformedEvent => "malformed-event",
            Fault::EndsWithoutAnswer => "ends-without-answer",
            Fault::LeavesResumable => "leaves-resumable",
            Fault::MalformedJson => "malformed-json",
            Fault::Slow => "slow",
            Fault::EndlessJson => "endless-json",
            Fault::EndlessEvent => "endless-event",
        }
    }

    fn from_path(path: &str) -> Option<Self> {
        let first = path.trim_start_matches('/').split('/').next()?;
        Self::ALL.into_iter().find(|f| f.name() == first)
    }
}

/// A running faulty upstream; it stops when dropped.
pub struct FaultUpstream {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FaultUpstream {
    /// Listens on a free loopback port.
    pub async fn spawn() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket));
            }
        });
        Self { addr, task }
    }

    /// The MCP endpoint that injects `fault`.
    pub fn url(&self, fault: Fault) -> String {
        format!("http://{}/{}/mcp", self.addr, fault.name())
    }
}

impl Drop for FaultUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request as read off the socket.
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

async fn serve(mut socket: TcpStream) {
    // Keep-alive: the gateway's pool reuses connections, so serve requests until one fails.
    while let Some(request) = read_request(&mut socket).await {
        if !answer(&mut socket, request).await {
            return;
        }
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut request_line = head.lines().next()?.split_whitespace();
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request { method, path, body })
}

/// Answers one request; `false` when the connection must not be used again.
async fn answer(socket: &mut TcpStream, request: Request) -> bool {
    if request.method != "POST" {
        return respond(socket, "405 Method Not Allowed", "text/plain", b"").await;
    }
    let message: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let id = message.get("id").cloned();
    let method = message["method"].as_str().unwrap_or_default();
    let Some(id) = id else {
        return respond(socket, "202 Accepted", "application/json", b"").await;
    };
    if method == "initialize" {
        let version = message["params"]["protocolVersion"].clone();
        let result = json!({"jsonrpc": "2.0", "id": id, "result": {
            "protocolVersion": version,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fault-upstream", "version": "1"}}});
        let body = result.to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nmcp-session-id: {}\r\ncontent-length: {}\r\n\r\n",
            uuid::Uuid::new_v4().simple(),
            body.len()
        );
        return socket.write_all(head.as_bytes()).await.is_ok()
            && socket.write_all(body.as_bytes()).await.is_ok();
    }
    let Some(fault) = Fault::from_path(&request.path) else {
        return respond(socket, "404 Not Found", "text/plain", b"no such fault").await;
    };
    inject(socket, fault, &id).await;
    false
}

async fn respond(socket: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) -> bool {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.is_ok() && socket.write_all(body).await.is_ok()
}

/// The head of a chunked SSE answer.
const SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

/// `bytes` as one HTTP chunk.
fn chunk(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    out
}

fn progress_event() -> Vec<u8> {
    let note = json!({"jsonrpc": "2.0", "method": "notifications/message",
        "params": {"level": "info", "data": "working"}});
    chunk(format!("event: message\ndata: {note}\n\n").as_bytes())
}

/// Closes `socket` with a reset (RST) rather than an orderly close.
fn reset(socket: &mut TcpStream) {
    let _ = socket.set_zero_linger();
}

async fn inject(socket: &mut TcpStream, fault: Fault, id: &Value) {
    let mut out = Vec::new();
    match fault {
        Fault::Reset => return reset(socket),
        Fault::Slow => return tokio::time::sleep(STALL).await,
        Fault::MalformedJson => {
            let body = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"content\":[");
            respond(socket, "200 OK", "application/json", body.as_bytes()).await;
            return;
        }
        Fault::EndlessJson => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            out.extend_from_slice(head.as_bytes());
            let start = format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":\""
            );
            out.extend(chunk(start.as_bytes()));
            if socket.write_all(&out).await.is_err() {
                return;
            }
            return endless(socket).await;
        }
        Fault::EndlessEvent => {
            out.extend_from_slice(SSE_HEAD);
            out.extend(chunk(b"event: message\ndata: {\"text\":\""));
            if socket.write_all(&out).await.is_err() {
                return;
            }
            return endless(socket).await;
        }
        Fault::ResetMidStream
        | Fault::StallMidStream
        | Fault::MalformedEvent
        | Fault::EndsWithoutAnswer
        | Fault::LeavesResumable => {}
    }
    out.extend_from_slice(SSE_HEAD);
    if fault == Fault::LeavesResumable {
        out.extend(chunk(b"id: 1\ndata:\n\n"));
    }
    out.extend(progress_event());
    match fault {
        Fault::MalformedEvent => out.extend(chunk(b"event: message\ndata: {not json\n\n")),
        Fault::EndsWithoutAnswer | Fault::LeavesResumable => {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        _ => {}
    }
    if socket.write_all(&out).await.is_err() {
        return;
    }
    match fault {
        Fault::ResetMidStream => reset(socket),
        Fault::StallMidStream | Fault::MalformedEvent => {
            tokio::time::sleep(STALL).await;
        }
        _ => {}
    }
}

/// Writes 64 KiB chunks of `a` until the reader goes away.
async fn endless(socket: &mut TcpStream) {
    let piece = chunk(&[b'a'; 64 * 1024]);
    while socket.write_all(&piece).await.is_ok() {}
}
