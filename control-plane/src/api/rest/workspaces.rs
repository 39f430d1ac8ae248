//! `/v1/workspaces`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mcpgw_shared::WorkspaceId;
use mcpgw_shared::model::{Grants, IdentityProvider, JwtValidation, RateLimit, ToolFilter};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{AdminAuth, IdPath, IfMatch, JsonBody};
use super::views::WorkspaceView;
use crate::application::{Service, WorkspaceChanges};

/// `POST /v1/workspaces`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    name: String,
}

/// `PATCH /v1/workspaces/{id}`: a new name, a tool policy, or both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    name: Option<String>,
    /// Limits every server the workspace's keys reach: `allow`, `deny` (names or globs),
    /// `read_only`.
    #[schema(value_type = Option<Object>)]
    tools: Option<ToolFilter>,
    /// What single keys and users may use, merged into the current grants: `{"key:<api key
    /// id>" | "user:<user id>": {"servers"?: [slugs], "tools"?: {allow, deny, read_only}} or
    /// null to remove}`.
    #[schema(value_type = Option<Object>)]
    grants: Option<BTreeMap<String, Option<Grants>>>,
    /// Rate limits and quotas on everything the workspace's keys call, as a server's
    /// `rate_limits` (the complete list; `[]` removes them).
    #[schema(value_type = Option<Vec<Object>>)]
    rate_limits: Option<Vec<RateLimit>>,
    /// How bearer tokens of the workspace's identity provider are checked: `{"issuer",
    /// "jwks_uri" | "jwks" | "introspection": {"endpoint", "client_id", "client_secret"?},
    /// "audiences"?, "algorithms"?, "clock_tolerance_seconds"?, "user_claim"?,
    /// "required_claims"?, "permissions"?}`; `null` accepts API keys only. The introspection
    /// client secret is write-only; left out, the stored one is kept while `endpoint` and
    /// `client_id` stay the same.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    jwt_validation: Option<Option<JwtValidation<String>>>,
    /// The OpenID Connect provider the workspace's users sign in with at the gateway's OAuth
    /// authorization server: `{"issuer", "client_id", "client_secret"?, "scopes"?,
    /// "user_claim"?, "allowed_email_domains"?, "required_claims"?}`; `null` removes it. The
    /// client secret is write-only; left out, the stored one is kept while `issuer` and
    /// `client_id` stay the same.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    identity_provider: Option<Option<IdentityProvider<String>>>,
    version: Option<i64>,
}

/// A field given, even as `null` (`Some(None)`), told apart from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `GET /v1/workspaces`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkspaceList {
    workspaces: Vec<WorkspaceView>,
}

/// Creates a workspace (global admin).
#[utoipa::path(post, path = "/v1/workspaces", request_body = CreateWorkspace,
    responses((status = 201, body = WorkspaceView), (status = 409, description = "name taken")))]
pub async fn create(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    JsonBody(body): JsonBody<CreateWorkspace>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let row = service.create_workspace(&admin, &body.name).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// Lists the workspaces the admin may see.
#[utoipa::path(get, path = "/v1/workspaces", responses((status = 200, body = WorkspaceList)))]
pub async fn list(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
) -> Result<Json<WorkspaceList>, ApiError> {
    let rows = service.workspaces(&admin).await?;
    Ok(Json(WorkspaceList {
        workspaces: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Shows one workspace.
#[utoipa::path(get, path = "/v1/workspaces/{id}", responses((status = 200, body = WorkspaceView)))]
pub async fn show(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<WorkspaceId>,
) -> Result<Json<WorkspaceView>, ApiError> {
    Ok(Json(service.workspace(&admin, &id).await?.into()))
}

/// Renames a workspace, or sets its tool policy.
#[utoipa::path(patch, path = "/v1/workspaces/{id}", request_body = UpdateWorkspace,
    responses((status = 200, body = WorkspaceView), (status = 409, description = "version conflict")))]
pub async fn update(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<WorkspaceId>,
    IfMatch(if_match): IfMatch,
    JsonBody(body): JsonBody<UpdateWorkspace>,
) -> Result<Json<WorkspaceView>, ApiError> {
    if body.name.is_none()
        && body.tools.is_none()
        && body.grants.is_none()
        && body.rate_limits.is_none()
        && body.jwt_validation.is_none()
        && body.identity_provider.is_none()
    {
        return Err(ApiError::invalid_field(
            "body",
            "give at least one of `name`, `tools`, `grants`, `rate_limits`, `jwt_validation` and `identity_provider`",
        ));
    }
    let changes = WorkspaceChanges {
        name: body.name,
        tools: body.tools,
        grants: body.grants,
        rate_limits: body.rate_limits,
        jwt_validation: body.jwt_validation,
        identity_provider: body.identity_provider,
    };
    let row = service
        .update_workspace(&admin, &id, changes, if_match.or(body.version))
        .await?;
    Ok(Json(row.into()))
}

#[cfg(test)]
mod tests;
