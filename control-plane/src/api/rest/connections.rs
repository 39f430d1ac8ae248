//! `/v1/servers/{id}/connections`: the users signed in to a per-user OAuth server.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use mcpgw_shared::ServerId;
use serde::Serialize;

use super::error::ApiError;
use super::extract::{AdminAuth, IdPath};
use crate::application::{Service, ServiceError};
use crate::store::ConnectionRow;

/// One user's connection (never its tokens).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    /// The user.
    user_id: String,
    /// Times tokens were stored (sign-in and every refresh).
    version: i64,
    /// The sign-in ended (its refresh token was refused or never issued): the user is asked
    /// to sign in again at their next call.
    signed_out: bool,
    /// When the user first signed in.
    connected_at: DateTime<Utc>,
    /// When tokens were last stored.
    refreshed_at: DateTime<Utc>,
}

impl From<ConnectionRow> for ConnectionView {
    fn from(row: ConnectionRow) -> Self {
        Self {
            user_id: row.user_id,
            version: row.version,
            signed_out: row.signed_out,
            connected_at: row.created_at,
            refreshed_at: row.updated_at,
        }
    }
}

/// `GET /v1/servers/{id}/connections`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionList {
    connections: Vec<ConnectionView>,
}

/// Lists the users signed in to a per-user OAuth server.
#[utoipa::path(get, path = "/v1/servers/{id}/connections",
    responses((status = 200, body = ConnectionList)))]
pub async fn list(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<ServerId>,
) -> Result<Json<ConnectionList>, ApiError> {
    let rows = service.connections(&admin, &id).await?;
    Ok(Json(ConnectionList {
        connections: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Ends a user's connection: its tokens are deleted, the user's open streams to the server
/// close on every data plane, and their next call asks them to sign in again.
#[utoipa::path(delete, path = "/v1/servers/{id}/connections/{user_id}",
    responses((status = 204), (status = 404, description = "the user is not connected")))]
pub async fn revoke(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: ServerId = id
        .parse()
        .map_err(|_| ServiceError::not_found("server", &id))?;
    service.revoke_connection(&admin, &id, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}
