//! `GET /v0.1/servers`: the MCP Registry API's listing, in the registry's `server.json`
//! format, of the servers the caller's key may use, each with the gateway's URL for it, so
//! clients and IDEs can discover what the gateway offers them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::HeaderMap;
use http::request::Parts;
use mcpgw_shared::request_id::RequestId;
use serde_json::{Value, json};
use url::Url;

use crate::access;
use crate::admission::{HostChecked, identify};
use crate::errors::{Failure, GatewayError};
use crate::relay::RelayState;
use crate::snapshot::Route;

/// The `server.json` schema the listing follows.
pub const SERVER_SCHEMA: &str =
    "https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json";
/// The longest description `server.json` allows.
const MAX_DESCRIPTION: usize = 100;

/// The handler.
pub async fn list(State(state): State<RelayState>, mut parts: Parts) -> Response {
    let rid = RequestId::from_extensions(&parts.extensions);
    match listing(&state, &mut parts).await {
        Ok(listing) => Json(listing).into_response(),
        Err(error) => error.into_failure(&rid, None).into_response(),
    }
}

async fn listing(state: &RelayState, parts: &mut Parts) -> Result<Value, GatewayError> {
    HostChecked::from_request_parts(parts, state)
        .await
        .map_err(|failure: Failure| failure.error)?;
    let config = state.store.load();
    if !config.is_ready() {
        return Err(GatewayError::NotReady);
    }
    let principal = identify(&config, &parts.headers)?;
    let now = Utc::now();
    principal.usable_at(now)?;
    let base = public_base(state.public_base.as_deref(), &parts.headers);
    let mut routes: Vec<&Arc<Route>> = config
        .routes()
        .filter(|route| {
            access::allows(&config, &principal.key_id, &principal.key, route, now).is_ok()
        })
        .collect();
    routes.sort_by(|a, b| a.slug().as_str().cmp(b.slug().as_str()));
    let servers: Vec<Value> = routes
        .into_iter()
        .map(|route| json!({"server": server_json(route, &base), "_meta": gateway_meta(route)}))
        .collect();
    Ok(json!({"servers": servers, "metadata": {"count": servers.len()}}))
}

/// The base of the gateway's URLs: `MCPGW_PUBLIC_BASE_URL`, else the request's host.
fn public_base(configured: Option<&Url>, headers: &HeaderMap) -> String {
    match configured {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

/// One server in the registry's `server.json` format, reached through the gateway.
fn server_json(route: &Route, base: &str) -> Value {
    let server = &route.server;
    let described = if server.description.trim().is_empty() {
        &server.name
    } else {
        &server.description
    };
    json!({
        "$schema": SERVER_SCHEMA,
        "name": format!("{}/{}", namespace(base), route.slug()),
        "description": truncated(described, MAX_DESCRIPTION),
        "version": format!("{}.0.0", server.version),
        "remotes": [{"type": "streamable-http", "url": format!("{base}/{}/mcp", route.slug())}],
    })
}

/// The registry namespace of the gateway: its host in reverse-DNS order (`mcp.example.com`
/// becomes `com.example.mcp`).
fn namespace(base: &str) -> String {
    let host = Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned());
    let mut labels: Vec<&str> = host.split('.').filter(|label| !label.is_empty()).collect();
    labels.reverse();
    let reversed = labels.join(".");
    reversed
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn truncated(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

/// What the gateway adds of its own: the server's id, slug, display name and upstream auth
/// type (never its URL).
fn gateway_meta(route: &Route) -> Value {
    json!({"io.mcpgw/gateway": {
        "server_id": route.id(),
        "slug": route.slug().as_str(),
        "title": route.server.name,
        "auth": route.server.auth.type_name(),
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_is_the_host_in_reverse_dns_order() {
        assert_eq!(namespace("https://mcp.example.com"), "com.example.mcp");
        assert_eq!(namespace("http://127.0.0.1:8080"), "1.0.0.127");
    }

    #[test]
    fn descriptions_are_cut_at_a_character_boundary() {
        assert_eq!(truncated("héllo", 2), "hé");
        assert_eq!(truncated("short", 100), "short");
    }
}
