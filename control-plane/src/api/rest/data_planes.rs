//! `/v1/data-planes`: the fleet, its tokens and its instances.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use mcpgw_shared::DataPlaneId;
use mcpgw_shared::version::VERSION;
use serde::Serialize;

use super::error::ApiError;
use super::extract::{AdminAuth, IdPath, JsonBody, parse_optional_json};
use super::views::{DataPlaneView, IssuedTokenView};
use crate::application::{
    NatsUser, RegisterDataPlaneInput, RevokeDataPlaneInput, RotateTokenInput, Service,
};

/// `GET /v1/data-planes`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DataPlaneList {
    data_planes: Vec<DataPlaneView>,
    /// The sequence of the last committed event.
    head: i64,
    /// This control plane's version.
    control_plane_version: &'static str,
    /// Some instance is newer than this control plane (see each instance's `version_skew`).
    version_skew: bool,
}

/// Registers a data plane; the response is the only time its token and NATS seed are shown.
#[utoipa::path(post, path = "/v1/data-planes", request_body = RegisterDataPlaneInput,
    responses((status = 201, body = DataPlaneView)))]
pub async fn create(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    JsonBody(body): JsonBody<RegisterDataPlaneInput>,
) -> Result<(StatusCode, Json<DataPlaneView>), ApiError> {
    let registered = service.register_data_plane(&admin, body).await?;
    let head = service.head().await?;
    Ok((
        StatusCode::CREATED,
        Json(
            DataPlaneView::new(registered.status, head)
                .with_secrets(registered.token.token, registered.nats_seed.into_inner()),
        ),
    ))
}

/// The fleet: data planes with their tokens (never the secrets) and each instance's version,
/// applied sequence, lag, last report, uptime, health, staleness and version-skew breach.
#[utoipa::path(get, path = "/v1/data-planes", responses((status = 200, body = DataPlaneList)))]
pub async fn list(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
) -> Result<Json<DataPlaneList>, ApiError> {
    let statuses = service.data_planes(&admin).await?;
    let head = service.head().await?;
    let data_planes: Vec<DataPlaneView> = statuses
        .into_iter()
        .map(|s| DataPlaneView::new(s, head))
        .collect();
    Ok(Json(DataPlaneList {
        version_skew: data_planes.iter().any(DataPlaneView::version_skew),
        data_planes,
        head,
        control_plane_version: VERSION,
    }))
}

/// One data plane.
#[utoipa::path(get, path = "/v1/data-planes/{id}", responses((status = 200, body = DataPlaneView)))]
pub async fn show(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<DataPlaneId>,
) -> Result<Json<DataPlaneView>, ApiError> {
    let status = service.data_plane(&admin, id).await?;
    Ok(Json(DataPlaneView::new(status, service.head().await?)))
}

/// Issues a new token (shown once); the current tokens keep working for `overlap_seconds`
/// (default 3600), then stop.
#[utoipa::path(post, path = "/v1/data-planes/{id}/rotate-token",
    request_body(content = RotateTokenInput, description = "optional"),
    responses((status = 201, body = IssuedTokenView)))]
pub async fn rotate_token(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<DataPlaneId>,
    body: Bytes,
) -> Result<(StatusCode, Json<IssuedTokenView>), ApiError> {
    let input = parse_optional_json::<RotateTokenInput>(&body)?;
    let issued = service.rotate_data_plane_token(&admin, id, input).await?;
    Ok((StatusCode::CREATED, Json(issued.into())))
}

/// Revokes one token (`{"token_id": …}`) or, with no body, every usable token: pods holding
/// it lose the sync API at once and answer 503 once `MCPGW_MAX_STALENESS` passes.
#[utoipa::path(post, path = "/v1/data-planes/{id}/revoke",
    request_body(content = RevokeDataPlaneInput, description = "optional"),
    responses((status = 200, body = DataPlaneView)))]
pub async fn revoke(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<DataPlaneId>,
    body: Bytes,
) -> Result<Json<DataPlaneView>, ApiError> {
    let input = parse_optional_json::<RevokeDataPlaneInput>(&body)?;
    let status = service.revoke_data_plane(&admin, id, input).await?;
    Ok(Json(DataPlaneView::new(status, service.head().await?)))
}

/// Deletes a registration with its tokens and instance rows.
#[utoipa::path(delete, path = "/v1/data-planes/{id}", responses((status = 204)))]
pub async fn delete(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    IdPath(id): IdPath<DataPlaneId>,
) -> Result<StatusCode, ApiError> {
    service.delete_data_plane(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The NATS `authorization` block of the cluster: the control plane's user and one nkey user
/// per data plane with its permissions, for the NATS servers data planes connect to.
#[utoipa::path(get, path = "/v1/nats/authorization",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn nats_authorization(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
) -> Result<([(header::HeaderName, &'static str); 1], String), ApiError> {
    let users = service.nats_users(&admin).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        render_authorization(&users),
    ))
}

/// `users` as a nats-server configuration block (strings JSON-quoted, which the NATS format
/// reads as its own).
fn render_authorization(users: &[NatsUser]) -> String {
    let list = |subjects: &[String]| {
        subjects
            .iter()
            .map(|s| serde_json::Value::from(s.as_str()).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = String::from(
        "# Generated by the mcpgw control plane (GET /v1/nats/authorization). Include it in the\n\
         # configuration of the NATS servers the planes connect to (the hub, or a leaf node beside\n\
         # the data planes), and reload them (nats-server --signal reload) after registering or\n\
         # deleting a data plane.\nauthorization {\n  users = [\n",
    );
    for user in users {
        text.push_str(&format!(
            "    # {}\n    {{\n      nkey: {}\n      permissions: {{\n        publish: {{ allow: [{}] }}\n        subscribe: {{ allow: [{}] }}\n      }}\n    }}\n",
            user.who.replace('\n', " "),
            serde_json::Value::from(user.nkey.as_str()),
            list(&user.permissions.publish),
            list(&user.permissions.subscribe),
        ));
    }
    text.push_str("  ]\n}\n");
    text
}
