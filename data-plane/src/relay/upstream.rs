//! Calls to upstream MCP servers: one pooled HTTP client for every upstream, the headers that
//! may cross (an allowlist; never the client's credential), the server's own upstream auth,
//! and the mapping of connect and response timeouts to 502 and 504.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mcpgw_shared::model::{ServerConfig, UpstreamAuth};

use super::errors::GatewayError;
use mcpgw_shared::request_id::{RequestId, X_REQUEST_ID};

/// The session header.
pub const MCP_SESSION_ID: &str = "mcp-session-id";

/// Client headers always forwarded: what MCP's transport defines, plus trace context.
const FORWARDED: [&str; 10] = [
    "accept",
    "content-type",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
    "traceparent",
    "tracestate",
    "baggage",
    "user-agent",
];

/// Headers that carry the client's own credentials: never forwarded, whatever is configured.
const NEVER: [&str; 4] = [
    "authorization",
    "x-mcpgw-api-key",
    "cookie",
    "proxy-authorization",
];

/// The client for every upstream.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: reqwest::Client,
    timeout: Duration,
    extra: Arc<[HeaderName]>,
}

impl Upstream {
    /// A pooled client with the given connect and response-header timeouts, forwarding
    /// `extra_headers` from clients besides the MCP ones.
    pub fn new(
        connect_timeout: Duration,
        timeout: Duration,
        extra_headers: Vec<HeaderName>,
    ) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the upstream HTTP client builds with static settings");
        let extra = extra_headers
            .into_iter()
            .filter(|h| !NEVER.contains(&h.as_str()))
            .collect();
        Self {
            client,
            timeout,
            extra,
        }
    }

    fn forwards(&self, name: &HeaderName) -> bool {
        let n = name.as_str();
        FORWARDED.contains(&n) || n.starts_with("mcp-param-") || self.extra.contains(name)
    }

    /// Sends one request to `server`'s upstream; resolves when its response headers arrive.
    pub async fn send(
        &self,
        server: &ServerConfig,
        method: Method,
        client_headers: &HeaderMap,
        upstream_session: Option<&str>,
        request_id: &RequestId,
        body: Option<Bytes>,
    ) -> Result<reqwest::Response, GatewayError> {
        let mut headers = HeaderMap::with_capacity(12);
        for (name, value) in client_headers {
            if self.forwards(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        if let Some(session) = upstream_session
            && let Ok(value) = HeaderValue::from_str(session)
        {
            headers.insert(MCP_SESSION_ID, value);
        }
        if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
            headers.insert(X_REQUEST_ID, value);
        }
        if let UpstreamAuth::Headers { headers: secret } = &server.auth {
            for (name, value) in secret {
                if let (Ok(name), Ok(mut value)) = (
                    HeaderName::try_from(name.as_str()),
                    HeaderValue::from_str(value.expose()),
                ) {
                    value.set_sensitive(true);
                    headers.insert(name, value);
                }
            }
        }
        let mut request = self.client.request(method, &server.url).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        match tokio::time::timeout(self.timeout, request.send()).await {
            Err(_) => Err(GatewayError::UpstreamTimeout {
                upstream: server.url.clone(),
                secs: self.timeout.as_secs(),
            }),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) if e.is_connect() || e.is_timeout() => {
                Err(GatewayError::UpstreamUnreachable {
                    upstream: server.url.clone(),
                    detail: error_chain(&e),
                })
            }
            Ok(Err(e)) => Err(GatewayError::UpstreamFailed {
                upstream: server.url.clone(),
                detail: error_chain(&e),
            }),
        }
    }

    /// The response-header timeout, also used for the bounded reads of whole bodies.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// The error and its causes on one line (reqwest's own message names only the outer layer).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
