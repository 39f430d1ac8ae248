//! What an upstream says of its tools, for servers whose policy is read-only: a `tools/call`
//! goes through only for a tool the upstream's own `tools/list` annotates read-only (clients
//! need not have listed tools first, nor on this pod). The listing is asked with the caller's
//! credentials (a per-user server may show each user other tools), in the caller's protocol
//! era and session, every page of it, and kept for a minute per server, connection version and
//! user.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mcpgw_shared::ServerId;
use serde::Deserialize;
use serde_json::json;

pub use super::ask::Asker;
use super::ask::ask;
use super::tools::Listed;
use super::upstream::Upstream;
use crate::errors::GatewayError;
use crate::snapshot::{Route, ToolAnnotations};

/// How long a listing is kept.
const KEPT_FOR: Duration = Duration::from_secs(60);
/// Most pages of a listing read.
const MAX_PAGES: usize = 20;
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
            asker.caller.and_then(|c| c.key.user.clone()),
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
    let mut tools = HashMap::new();
    let mut cursor: Option<String> = None;
    for page in 0..MAX_PAGES {
        let id = format!("mcpgw-catalog-{page}");
        let params = match &cursor {
            Some(cursor) => json!({"cursor": cursor}),
            None => json!({}),
        };
        let answered = ask(upstream, route, asker, &id, "tools/list", params, None).await?;
        let text = answered.message.to_string();
        let page: Page<'_> = serde_json::from_str(&text)
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
