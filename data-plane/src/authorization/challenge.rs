//! The challenge of each MCP server: every `WWW-Authenticate` the relay answers with (a 401,
//! or a 403 for a missing scope) names the server's protected-resource metadata, and a 401
//! the scopes to ask for, so a client that holds no credential can discover where to get one
//! (RFC 9728 §5.1, MCP authorization).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use super::AuthorizationServer;
use crate::admission::scope::CHALLENGE;

/// Middleware for the relay's routes (`/{slug}/mcp`).
pub async fn annotate_challenges(
    State(server): State<AuthorizationServer>,
    request: Request,
    next: Next,
) -> Response {
    let slug = request
        .uri()
        .path()
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix("/mcp"))
        .filter(|s| mcpgw_shared::Slug::parse(s).is_ok())
        .map(str::to_owned);
    let mut response = next.run(request).await;
    let Some(slug) = slug else {
        return response;
    };
    let Some(challenge) = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .filter(|c| c.starts_with("Bearer"))
    else {
        return response;
    };
    let mut annotated = format!(
        "{challenge}, resource_metadata=\"{}\"",
        server.resource_metadata_of(&slug)
    );
    if response.status() == StatusCode::UNAUTHORIZED {
        annotated.push_str(&format!(", scope=\"{CHALLENGE}\""));
    }
    if let Ok(value) = HeaderValue::from_str(&annotated) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
