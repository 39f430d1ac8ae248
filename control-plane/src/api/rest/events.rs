//! `/v1/events`: the audit log.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::AdminAuth;
use super::views::EventView;
use crate::application::Service;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only events after this sequence (default 0).
    after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<i64>,
}

/// `GET /v1/events`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventList {
    events: Vec<EventView>,
    /// The sequence of the last committed event.
    head: i64,
}

/// Pages through the audit log: who changed what, when.
#[utoipa::path(get, path = "/v1/events", params(EventsQuery), responses((status = 200, body = EventList)))]
pub async fn list(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EventList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid_field("query", e.body_text()))?;
    let (events, head) = service
        .audit_log(&admin, query.after.unwrap_or(0), query.limit.unwrap_or(100))
        .await?;
    Ok(Json(EventList {
        events: events.into_iter().map(Into::into).collect(),
        head,
    }))
}
