//! `/v1/servers`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use super::error::ApiError;
use super::extract::{AdminAuth, IfMatch, JsonBody};
use super::views::ServerView;
use crate::application::{RegisterServerInput, Service, UpdateServerInput};

/// `GET /v1/servers`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServerList {
    servers: Vec<ServerView>,
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

/// Shows one server.
#[utoipa::path(get, path = "/v1/servers/{id}", responses((status = 200, body = ServerView)))]
pub async fn show(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<ServerView>, ApiError> {
    Ok(Json(service.server(&admin, &id).await?.into()))
}

/// Changes a server; `If-Match` or `version` pins the version the change was made against.
#[utoipa::path(patch, path = "/v1/servers/{id}", request_body = UpdateServerInput,
    responses((status = 200, body = ServerView), (status = 409, description = "version conflict")))]
pub async fn update(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
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
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode, ApiError> {
    service.delete_server(&admin, &id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}
