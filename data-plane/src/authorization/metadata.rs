//! The documents clients discover the authorization server by: each server's protected-resource
//! metadata (RFC 9728), the authorization server's metadata (RFC 8414, also served as an OpenID
//! configuration), and the JWK Set of its signing keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::{
    AUTHORIZE_PATH, AuthorizationServer, INTROSPECT_PATH, JWKS_PATH, REGISTER_PATH, REVOKE_PATH,
    TOKEN_PATH,
};
use crate::admission::scope::SUPPORTED;

/// How long clients may cache the metadata documents.
const CACHE_FOR: &str = "max-age=300";

/// `GET /.well-known/oauth-authorization-server` (and `/.well-known/openid-configuration`).
pub async fn authorization_server(State(server): State<AuthorizationServer>) -> Response {
    let auth_methods = ["none", "client_secret_basic", "client_secret_post"];
    public(Json(json!({
        "issuer": server.issuer(),
        "authorization_endpoint": server.at(AUTHORIZE_PATH),
        "token_endpoint": server.at(TOKEN_PATH),
        "registration_endpoint": server.at(REGISTER_PATH),
        "revocation_endpoint": server.at(REVOKE_PATH),
        "introspection_endpoint": server.at(INTROSPECT_PATH),
        "jwks_uri": server.at(JWKS_PATH),
        "scopes_supported": SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    })))
}

/// `GET /.well-known/oauth-protected-resource/{slug}/mcp`: what the server at `slug` is and
/// who issues its tokens; 404 when no server has that slug.
pub async fn protected_resource(
    State(server): State<AuthorizationServer>,
    Path(slug): Path<String>,
) -> Response {
    let config = server.inner.store.load();
    let Some(route) = config.route_by_slug(&slug) else {
        let said: String = slug.chars().take(64).collect();
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "error_description": format!("no MCP server at /{said}/mcp")})),
        )
            .into_response();
    };
    public(Json(json!({
        "resource": server.resource_of(route.slug().as_str()),
        "authorization_servers": [server.issuer()],
        "scopes_supported": SUPPORTED,
        "bearer_methods_supported": ["header"],
        "resource_name": route.server.name,
    })))
}

/// `GET /.well-known/jwks.json`: the public keys access tokens are signed with.
pub async fn jwks(State(server): State<AuthorizationServer>) -> Response {
    match server.tokens().jwks().await {
        Ok(json) => public((
            [(header::CONTENT_TYPE, "application/json")],
            json.to_string(),
        )),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"error": "temporarily_unavailable", "error_description": error.to_string()}),
            ),
        )
            .into_response(),
    }
}

/// A public document: cacheable, readable from any origin (browser-based clients discover too).
fn public(document: impl IntoResponse) -> Response {
    let mut response = document.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_FOR));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
