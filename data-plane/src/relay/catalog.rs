//! What an upstream says of its tools, for servers whose policy is read-only: a `tools/call`
//! goes through only for a tool the upstream's own `tools/list` annotates read-only (clients
//! need not have listed tools first, nor on this pod). The listing is asked with the caller's
//! credentials (a per-user server may show each user other tools), in the caller's protocol
//! era and session, every page of it, and kept for a minute per server, connection version and
//! user.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Method};
use mcpgw_shared::ServerId;
use mcpgw_shared::request_id::RequestId;
use serde::Deserialize;
use serde_json::json;

use super::sse::{self, EventSplitter};
use super::tools::Listed;
use super::upstream::{Upstream, own_post_headers};
use crate::errors::GatewayError;
use crate::observe::Observation;
use crate::protocol::era::{self, Era};
use crate::snapshot::{Route, ToolAnnotations};

/// How long a listing is kept.
const KEPT_FOR: Duration = Duration::from_secs(60);
/// Most pages of a listing read.
const MAX_PAGES: usize = 20;
/// Largest page read.
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
/// Most listings kept.
const MAX_LISTINGS: u64 = 10_000;

/// Upstream tool names and their annotations.
pub type Listing = Arc<HashMap<String, ToolAnnotations>>;

/// A listing per server, connection version and user.
type Key = (ServerId, i64, Option<Arc<str>>);

/// The listings of read-only servers, shared by a pod's requests.
#[derive(Clone)]
pub struct ToolCatalog {
    listings: moka::future::Cache<Key, Listing>,
}

impl std::fmt::Debug for ToolCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolCatalog")
            .field("listings", &self.listings.entry_count())
            .finish()
    }
}

impl Default for ToolCatalog {
    fn default() -> Self {
        Self {
            listings: moka::future::Cache::builder()
                .max_capacity(MAX_LISTINGS)
                .time_to_live(KEPT_FOR)
                .build(),
        }
    }
}

/// Who asks, and how: the caller's user, era, protocol version and upstream session.
pub struct Asker<'a> {
    /// The user of the caller's key.
    pub user: Option<&'a str>,
    /// The request's era.
    pub era: Era,
    /// The protocol version to ask in.
    pub protocol_version: &'a str,
    /// The upstream session of the caller's session.
    pub upstream_session: Option<&'a str>,
    /// The request's id.
    pub request_id: &'a RequestId,
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    result: Option<PageResult<'a>>,
}

#[derive(Deserialize)]
struct PageResult<'a> {
    #[serde(borrow, default)]
    tools: Vec<Listed<'a>>,
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
}

impl ToolCatalog {
    /// The upstream's listing of `route`'s tools as `asker` sees them, asked once a minute.
    pub async fn listing(
        &self,
        upstream: &Upstream,
        route: &Arc<Route>,
        asker: &Asker<'_>,
    ) -> Result<Listing, GatewayError> {
        let key = (
            route.id(),
            route.connection_version(),
            asker.user.map(Arc::from),
        );
        self.listings
            .try_get_with(key, fetch(upstream, route, asker))
            .await
            .map_err(|shared| match Arc::try_unwrap(shared) {
                Ok(error) => error,
                Err(shared) => GatewayError::UpstreamFailed {
                    slug: route.slug().to_string(),
                    detail: shared.to_string(),
                },
            })
    }
}

async fn fetch(
    upstream: &Upstream,
    route: &Arc<Route>,
    asker: &Asker<'_>,
) -> Result<Listing, GatewayError> {
    let failed = |detail: String| GatewayError::UpstreamFailed {
        slug: route.slug().to_string(),
        detail,
    };
    let mut headers = own_post_headers(asker.protocol_version);
    if asker.era == Era::Stateless {
        headers.insert(era::MCP_METHOD, HeaderValue::from_static("tools/list"));
    }
    let mut tools = HashMap::new();
    let mut cursor: Option<String> = None;
    for page in 0..MAX_PAGES {
        let id = format!("mcpgw-catalog-{page}");
        let mut params = json!({});
        if asker.era == Era::Stateless {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": asker.protocol_version,
                "io.modelcontextprotocol/clientCapabilities": {},
            });
        }
        if let Some(cursor) = &cursor {
            params["cursor"] = json!(cursor);
        }
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": params});
        let response = upstream
            .send(
                route,
                asker.user,
                Method::POST,
                &headers,
                asker.upstream_session,
                asker.request_id,
                Some(Bytes::from(body.to_string())),
                &Observation::default(),
            )
            .await?;
        if !response.status().is_success() {
            return Err(failed(format!(
                "its tools/list (asked to check the read-only policy) answered HTTP {}",
                response.status()
            )));
        }
        let is_sse = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        let bytes = read(response, upstream.timeout())
            .await
            .map_err(|detail| failed(format!("its tools/list could not be read: {detail}")))?;
        let message = if is_sse {
            answer_in_events(&bytes, &id)
        } else {
            Some(bytes.to_vec())
        }
        .ok_or_else(|| failed("its tools/list stream carried no answer".into()))?;
        let page: Page<'_> = serde_json::from_slice(&message)
            .map_err(|_| failed("its tools/list answer is not a listing".into()))?;
        let result = page
            .result
            .ok_or_else(|| failed("its tools/list answered an error".into()))?;
        for tool in result.tools {
            tools.insert(tool.name.into_owned(), tool.annotations.unwrap_or_default());
        }
        match result.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(Arc::new(tools)),
        }
    }
    Err(failed(format!(
        "its tools/list has more than {MAX_PAGES} pages"
    )))
}

/// The answer with id `id` among the SSE events of `body`.
fn answer_in_events(body: &[u8], id: &str) -> Option<Vec<u8>> {
    let mut splitter = EventSplitter::default();
    let mut events = splitter.push(body).ok()?;
    events.extend(splitter.finish());
    let wanted = json!(id);
    events.iter().filter_map(|e| sse::data(e)).find(|data| {
        serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|m| m["id"] == wanted)
    })
}

/// The whole body, bounded in size and time.
async fn read(response: reqwest::Response, limit: Duration) -> Result<Bytes, String> {
    let read = async {
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| e.without_url().to_string())?;
            if body.len() + chunk.len() > MAX_PAGE_BYTES {
                return Err(format!("a page exceeds {MAX_PAGE_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    };
    tokio::time::timeout(limit, read)
        .await
        .map_err(|_| format!("not read within {}s", limit.as_secs()))?
}
