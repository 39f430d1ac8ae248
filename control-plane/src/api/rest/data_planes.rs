//! `/v1/data-planes`: the fleet.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::error::ApiError;
use super::extract::{AdminAuth, JsonBody};
use super::views::DataPlaneView;
use crate::application::{DataPlaneStatus, RegisterDataPlaneInput, Service};

/// `GET /v1/data-planes`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DataPlaneList {
    data_planes: Vec<DataPlaneView>,
    /// The sequence of the last committed event.
    head: i64,
}

/// Registers a data plane; the response is the only time its token is shown.
#[utoipa::path(post, path = "/v1/data-planes", request_body = RegisterDataPlaneInput,
    responses((status = 201, body = DataPlaneView)))]
pub async fn create(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    JsonBody(body): JsonBody<RegisterDataPlaneInput>,
) -> Result<(StatusCode, Json<DataPlaneView>), ApiError> {
    let registered = service.register_data_plane(&admin, body).await?;
    let head = service.head().await?;
    let status = DataPlaneStatus {
        row: registered.row,
        instances: vec![],
    };
    Ok((
        StatusCode::CREATED,
        Json(DataPlaneView::new(status, head, Some(registered.token))),
    ))
}

/// Lists data planes with each instance's applied sequence and lag.
#[utoipa::path(get, path = "/v1/data-planes", responses((status = 200, body = DataPlaneList)))]
pub async fn list(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
) -> Result<Json<DataPlaneList>, ApiError> {
    let statuses = service.data_planes(&admin).await?;
    let head = service.head().await?;
    Ok(Json(DataPlaneList {
        data_planes: statuses
            .into_iter()
            .map(|s| DataPlaneView::new(s, head, None))
            .collect(),
        head,
    }))
}
