//! `/v1/oauth/...`: the gateway's own authorization server, for administrators: its clients,
//! the grants users gave them, and the keys access tokens are signed with (never a secret).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use mcpgw_shared::{OAuthClientId, OAuthGrantId, WorkspaceId};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{AdminAuth, IdPath, JsonBody};
use crate::application::{RevokeGrantsInput, Service};
use crate::store::read_models::GrantFilter;
use crate::store::{OAuthClientRow, OAuthGrantRow, SigningKeyRow};

/// A registered client.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientView {
    #[schema(value_type = String)]
    client_id: OAuthClientId,
    client_name: String,
    redirect_uris: Vec<String>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    token_endpoint_auth_method: String,
    grant_types: Vec<String>,
    /// The scopes it may ask for, space-separated.
    scope: String,
    created_at: DateTime<Utc>,
    revoked: bool,
}

impl From<OAuthClientRow> for ClientView {
    fn from(row: OAuthClientRow) -> Self {
        Self {
            client_id: row.id,
            client_name: row.name,
            redirect_uris: row.redirect_uris,
            token_endpoint_auth_method: row.token_endpoint_auth_method,
            grant_types: row.grant_types,
            scope: row.scope,
            created_at: row.created_at,
            revoked: row.revoked,
        }
    }
}

/// A user's grant to a client.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantView {
    #[schema(value_type = String)]
    id: OAuthGrantId,
    /// A registered client's id, or a Client ID Metadata Document URL.
    client_id: String,
    user_id: String,
    #[schema(value_type = String)]
    workspace_id: WorkspaceId,
    #[schema(value_type = String)]
    server_id: mcpgw_shared::ServerId,
    /// The tokens' audience: the server's canonical URL.
    resource: String,
    scope: String,
    /// `issued` (a code not yet redeemed), `active` or `revoked`.
    state: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_reason: Option<String>,
}

impl From<OAuthGrantRow> for GrantView {
    fn from(row: OAuthGrantRow) -> Self {
        Self {
            id: row.id,
            client_id: row.client_id,
            user_id: row.user_id,
            workspace_id: row.workspace_id,
            server_id: row.server_id,
            resource: row.resource,
            scope: row.scope,
            state: row.state,
            created_at: row.created_at,
            updated_at: row.updated_at,
            revoked_reason: row.revoked_reason,
        }
    }
}

/// A signing key: its public part only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SigningKeyView {
    kid: String,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retired_at: Option<DateTime<Utc>>,
    /// The public JWK.
    #[schema(value_type = Object)]
    public_jwk: serde_json::Value,
}

impl From<SigningKeyRow> for SigningKeyView {
    fn from(row: SigningKeyRow) -> Self {
        Self {
            kid: row.kid,
            created_at: row.created_at,
            retired_at: row.retired_at,
            public_jwk: row.public_jwk,
        }
    }
}

/// `GET /v1/oauth/clients`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientList {
    items: Vec<ClientView>,
}

/// `GET /v1/oauth/grants`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantList {
    items: Vec<GrantView>,
}

/// `GET /v1/oauth/signing-keys`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SigningKeyList {
    items: Vec<SigningKeyView>,
}

/// Query parameters of `GET /v1/oauth/grants`: every one given must match.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GrantsQuery {
    /// Of this user.
    user_id: Option<String>,
    /// Of this client.
    client_id: Option<String>,
    /// In this workspace.
    #[param(value_type = Option<String>)]
    workspace_id: Option<WorkspaceId>,
}

/// `POST /v1/oauth/grants/revoke`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevokedGrants {
    /// How many grants were revoked.
    revoked: usize,
}

/// Lists the registered clients (global admins).
#[utoipa::path(get, path = "/v1/oauth/clients", responses((status = 200, body = ClientList)))]
pub async fn list_clients(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
) -> Result<Json<ClientList>, ApiError> {
    let clients = service.oauth_clients(&admin).await?;
    Ok(Json(ClientList {
        items: clients.into_iter().map(Into::into).collect(),
    }))
}

/// Revokes a client and each of its grants: its tokens can no longer be refreshed.
#[utoipa::path(delete, path = "/v1/oauth/clients/{id}", responses((status = 204)))]
pub async fn revoke_client(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<OAuthClientId>,
) -> Result<StatusCode, ApiError> {
    service.revoke_oauth_client(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists grants, newest first; a workspace admin sees its workspace's.
#[utoipa::path(get, path = "/v1/oauth/grants", params(GrantsQuery),
    responses((status = 200, body = GrantList)))]
pub async fn list_grants(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    query: Result<Query<GrantsQuery>, QueryRejection>,
) -> Result<Json<GrantList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid_field("query", e.body_text()))?;
    let filter = GrantFilter {
        user_id: query.user_id.as_deref(),
        client_id: query.client_id.as_deref(),
        workspace_id: query.workspace_id,
        unrevoked: false,
    };
    let grants = service.oauth_grants(&admin, filter).await?;
    Ok(Json(GrantList {
        items: grants.into_iter().map(Into::into).collect(),
    }))
}

/// Revokes one grant: its refresh tokens stop working.
#[utoipa::path(delete, path = "/v1/oauth/grants/{id}", responses((status = 204)))]
pub async fn revoke_grant(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<OAuthGrantId>,
) -> Result<StatusCode, ApiError> {
    service.revoke_oauth_grant(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes every grant of a user, of a client, or of both.
#[utoipa::path(post, path = "/v1/oauth/grants/revoke", request_body = RevokeGrantsInput,
    responses((status = 200, body = RevokedGrants)))]
pub async fn revoke_grants(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    JsonBody(body): JsonBody<RevokeGrantsInput>,
) -> Result<Json<RevokedGrants>, ApiError> {
    let revoked = service.revoke_oauth_grants(&admin, &body).await?;
    Ok(Json(RevokedGrants { revoked }))
}

/// Lists the signing keys, retired ones too, newest first (global admins).
#[utoipa::path(get, path = "/v1/oauth/signing-keys",
    responses((status = 200, body = SigningKeyList)))]
pub async fn list_signing_keys(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
) -> Result<Json<SigningKeyList>, ApiError> {
    let keys = service.signing_keys(&admin).await?;
    Ok(Json(SigningKeyList {
        items: keys.into_iter().map(Into::into).collect(),
    }))
}

/// Makes a new signing key now; the previous one keeps verifying, older ones are retired.
#[utoipa::path(post, path = "/v1/oauth/signing-keys/rotate",
    responses((status = 201, body = SigningKeyView)))]
pub async fn rotate_signing_key(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
) -> Result<(StatusCode, Json<SigningKeyView>), ApiError> {
    let key = service.rotate_signing_key(&admin).await?;
    Ok((StatusCode::CREATED, Json(key.into())))
}

#[cfg(test)]
mod tests;
