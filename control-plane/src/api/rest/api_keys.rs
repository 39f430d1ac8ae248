//! `/v1/api-keys`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use mcpgw_shared::ApiKeyId;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{AdminAuth, IdPath, JsonBody, parse_optional_json};
use super::views::ApiKeyView;
use crate::application::{IssueApiKeyInput, Service};

/// `GET /v1/api-keys`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyList {
    api_keys: Vec<ApiKeyView>,
}

/// The optional body of a revocation: nothing, or `{}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {}

/// Issues a key; the response is the only time the key is shown.
#[utoipa::path(post, path = "/v1/api-keys", request_body = IssueApiKeyInput,
    responses((status = 201, body = ApiKeyView)))]
pub async fn create(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    JsonBody(body): JsonBody<IssueApiKeyInput>,
) -> Result<(StatusCode, Json<ApiKeyView>), ApiError> {
    let issued = service.issue_api_key(&admin, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyView::with_key(issued.row, issued.key)),
    ))
}

/// Lists the keys the admin may see.
#[utoipa::path(get, path = "/v1/api-keys", responses((status = 200, body = ApiKeyList)))]
pub async fn list(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
) -> Result<Json<ApiKeyList>, ApiError> {
    let rows = service.api_keys(&admin).await?;
    Ok(Json(ApiKeyList {
        api_keys: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Shows one key.
#[utoipa::path(get, path = "/v1/api-keys/{id}", responses((status = 200, body = ApiKeyView)))]
pub async fn show(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<ApiKeyId>,
) -> Result<Json<ApiKeyView>, ApiError> {
    Ok(Json(service.api_key(&admin, &id).await?.into()))
}

/// Revokes a key (no body, or `{}`); revoking twice is fine.
#[utoipa::path(post, path = "/v1/api-keys/{id}/revoke",
    request_body(content = Object, description = "no body, or `{}`"),
    responses((status = 200, body = ApiKeyView)))]
pub async fn revoke(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<ApiKeyId>,
    body: Bytes,
) -> Result<Json<ApiKeyView>, ApiError> {
    parse_optional_json::<RevokeBody>(&body)?;
    Ok(Json(service.revoke_api_key(&admin, &id).await?.into()))
}
