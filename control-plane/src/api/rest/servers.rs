//! `/v1/servers`.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use mcpgw_shared::{ApiKeyId, ServerId};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{AdminAuth, IdPath, IfMatch, JsonBody};
use super::views::{ServerVersionView, ServerView};
use crate::application::{RegisterServerInput, ServerAt, Service, UpdateServerInput};

/// `GET /v1/servers`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServerList {
    servers: Vec<ServerView>,
}

/// `GET /v1/servers/{id}/history`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServerHistory {
    versions: Vec<ServerVersionView>,
}

/// Query parameters of `GET /v1/servers/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ShowQuery {
    /// Show the server as it was after this event sequence, or at this RFC 3339 time.
    at: Option<String>,
}

/// Registers a server.
#[utoipa::path(post, path = "/v1/servers", request_body = RegisterServerInput,
    responses((status = 201, body = ServerView), (status = 409, description = "slug taken"),
        (status = 422, description = "invalid field")))]
pub async fn create(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    JsonBody(body): JsonBody<RegisterServerInput>,
) -> Result<(StatusCode, Json<ServerView>), ApiError> {
    let row = service.register_server(&admin, body).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// Lists the servers of the workspaces the admin manages.
#[utoipa::path(get, path = "/v1/servers", responses((status = 200, body = ServerList)))]
pub async fn list(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
) -> Result<Json<ServerList>, ApiError> {
    let rows = service.servers(&admin).await?;
    Ok(Json(ServerList {
        servers: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Shows one server, as it is or, with `at`, as it was then (read from its event stream).
#[utoipa::path(get, path = "/v1/servers/{id}", params(ShowQuery),
    responses((status = 200, body = ServerView)))]
pub async fn show(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<ServerId>,
    query: Result<Query<ShowQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ServerView>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid_field("query", e.body_text()))?;
    let row = match query.at {
        None => service.server(&admin, &id).await?,
        Some(at) => {
            let at: ServerAt = at.parse().map_err(|e: crate::application::BadPoint| {
                ApiError::invalid_field("at", e.to_string())
            })?;
            service.server_at(&admin, &id, at).await?
        }
    };
    Ok(Json(row.into()))
}

/// Every version of a server, deleted ones included, with what changed in each.
#[utoipa::path(get, path = "/v1/servers/{id}/history",
    responses((status = 200, body = ServerHistory)))]
pub async fn history(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<ServerId>,
) -> Result<Json<ServerHistory>, ApiError> {
    let versions = service.server_history(&admin, &id).await?;
    Ok(Json(ServerHistory {
        versions: versions.into_iter().map(Into::into).collect(),
    }))
}

/// Changes a server; `If-Match` or `version` pins the version the change was made against.
#[utoipa::path(patch, path = "/v1/servers/{id}", request_body = UpdateServerInput,
    responses((status = 200, body = ServerView), (status = 409, description = "version conflict")))]
pub async fn update(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<ServerId>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<UpdateServerInput>,
) -> Result<Json<ServerView>, ApiError> {
    Ok(Json(
        service
            .update_server(&admin, &id, body, if_match)
            .await?
            .into(),
    ))
}

/// Deletes a server.
#[utoipa::path(delete, path = "/v1/servers/{id}", responses((status = 204)))]
pub async fn delete(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<ServerId>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode, ApiError> {
    service.delete_server(&admin, &id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `POST /v1/servers/{id}/diagnose` may check besides the server itself.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiagnoseRequest {
    /// An API key that should be able to use the server.
    #[schema(value_type = Option<String>)]
    key_id: Option<ApiKeyId>,
    /// A user whose keys should be able to use the server.
    user: Option<String>,
}

/// Runs the doctor on a server named by its id or slug: step by step, the key's type and permissions, the server's provisioning,
/// DNS, the egress policy and TLS for its upstream, an `initialize` and a `tools/list` with the
/// server's auth and, for OAuth servers, the protected resource and authorization server
/// metadata. Each step says what it saw and, when it failed, how to fix it. The body is
/// optional.
#[utoipa::path(post, path = "/v1/servers/{id}/diagnose", request_body = Option<DiagnoseRequest>,
    responses((status = 200, description = "the report: `ok`, `summary` and `steps` (step, status pass|warn|fail|skip, detail, fix, took_ms)", body = Object)))]
pub async fn diagnose(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    axum::extract::Path(server): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<crate::doctor::Report>, ApiError> {
    let request: DiagnoseRequest = if body.iter().all(u8::is_ascii_whitespace) {
        DiagnoseRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid_field("body", e.to_string()))?
    };
    let input = crate::doctor::DiagnoseInput {
        key_id: request.key_id,
        user: request.user,
    };
    Ok(Json(
        service.diagnose_server(&admin, &server, &input).await?,
    ))
}

/// Tests how the gateway signs in to a server's upstream (named by id or slug), step by step:
/// for per-user OAuth, the upstream's 401 challenge, its protected resource metadata and
/// `resource`, the authorization server's metadata (issuer, endpoints, PKCE S256), how the
/// gateway can be a client there (pre-registered or dynamic registration) and the scope; for
/// client credentials, a token request. Each step says what it saw and how to fix a failure.
#[utoipa::path(post, path = "/v1/servers/{id}/test-auth",
    responses((status = 200, description = "the report: `ok`, `summary` and `steps` (step, status pass|warn|fail|skip, detail, fix, took_ms)", body = Object)))]
pub async fn test_auth(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    axum::extract::Path(server): axum::extract::Path<String>,
) -> Result<Json<crate::doctor::Report>, ApiError> {
    Ok(Json(service.test_server_auth(&admin, &server).await?))
}
