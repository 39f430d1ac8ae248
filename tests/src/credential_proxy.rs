//! A credential-adding reverse proxy for peers that cannot send one: the MCP conformance
//! runner connects to it, and it forwards every request to the gateway unchanged (method,
//! path, `Host`, `Origin`, body streamed) plus `Authorization: Bearer <key>` — the role a
//! client's configuration plays. Responses stream back unchanged.
//!
//! Without a key ([`spawn_recording`]) it is a plain recording proxy in front of an upstream:
//! tests read the headers the gateway sent it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures::TryStreamExt;

#[derive(Clone)]
struct Target {
    base: String,
    key: Option<String>,
    seen: SeenHeaders,
    client: reqwest::Client,
}

/// The request headers a recording proxy received, oldest first.
#[derive(Clone, Default, Debug)]
pub struct SeenHeaders(Arc<Mutex<Vec<http::HeaderMap>>>);

impl SeenHeaders {
    /// Every request's headers so far.
    pub fn all(&self) -> Vec<http::HeaderMap> {
        self.0.lock().expect("headers lock").clone()
    }
}

async fn forward(State(target): State<Target>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    target
        .seen
        .0
        .lock()
        .expect("headers lock")
        .push(parts.headers.clone());
    let mut headers = parts.headers.clone();
    for hop in ["connection", "transfer-encoding", "keep-alive"] {
        headers.remove(hop);
    }
    if let Some(key) = &target.key {
        headers.insert(
            "authorization",
            format!("Bearer {key}")
                .parse()
                .expect("a key is a valid header value"),
        );
    }
    let body = reqwest::Body::wrap_stream(body.into_data_stream());
    let sent = target
        .client
        .request(parts.method, format!("{}{path}", target.base))
        .headers(headers)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if !matches!(
                    name.as_str(),
                    "connection" | "transfer-encoding" | "content-length"
                ) {
                    response = response.header(name, value);
                }
            }
            let stream = answer.bytes_stream().map_err(std::io::Error::other);
            response
                .body(Body::from_stream(stream))
                .expect("a valid response")
        }
        Err(e) => Response::builder()
            .status(599)
            .body(Body::from(format!("credential proxy: {e}")))
            .expect("a valid response"),
    }
}

/// Starts the proxy on an ephemeral loopback port, forwarding to `base` (such as
/// `http://127.0.0.1:8080`) with `key`; returns its address.
pub async fn spawn(base: &str, key: &str) -> SocketAddr {
    start(base, Some(key.to_owned()), SeenHeaders::default()).await
}

/// Starts a proxy forwarding to `base` as is, recording each request's headers; returns its
/// address and the record.
pub async fn spawn_recording(base: &str) -> (SocketAddr, SeenHeaders) {
    let seen = SeenHeaders::default();
    (start(base, None, seen.clone()).await, seen)
}

async fn start(base: &str, key: Option<String>, seen: SeenHeaders) -> SocketAddr {
    let target = Target {
        base: base.trim_end_matches('/').to_owned(),
        key,
        seen,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let app = Router::new().fallback(forward).with_state(target);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}
