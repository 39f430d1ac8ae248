//! `/v1/requests`: the request log — filtered pages with a cursor, a live tail (SSE), and one
//! request with the diagnosis of its outcome.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::error::ApiError;
use super::extract::AdminAuth;
use crate::application::{RequestDiagnosis, ServerVersion, Service};
use crate::store::request_log::{RequestFilter, StoredRequest};

/// Filters of the request log; every one given must match.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequestsQuery {
    /// A server's id or slug.
    server: Option<String>,
    /// An API key's id.
    key: Option<String>,
    /// A user (of user keys).
    user: Option<String>,
    /// A tool, prompt or resource name.
    tool: Option<String>,
    /// An HTTP status (`502`) or class (`5xx`, `4xx`, `2xx`).
    status: Option<String>,
    /// A gateway reason, such as `upstream_timeout` or `key_revoked`.
    reason: Option<String>,
    /// At or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// At most this many (default 100, at most 1000).
    limit: Option<i64>,
}

impl RequestsQuery {
    fn filter(self) -> Result<(RequestFilter, i64), ApiError> {
        let statuses = self.status.as_deref().map(parse_status).transpose()?;
        Ok((
            RequestFilter {
                workspaces: None,
                server: self.server,
                key_id: self.key,
                user: self.user,
                target: self.tool,
                statuses,
                reason: self.reason,
                since: self.since,
                until: self.until,
                before: self.cursor,
            },
            self.limit.unwrap_or(100),
        ))
    }
}

fn parse_status(text: &str) -> Result<(u16, u16), ApiError> {
    let bad = || {
        ApiError::invalid_field(
            "status",
            format!(
                "`{}` is neither an HTTP status (502) nor a class (5xx)",
                text.chars().take(16).collect::<String>()
            ),
        )
    };
    match text.as_bytes() {
        [class @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => {
            let low = u16::from(class - b'0') * 100;
            Ok((low, low + 99))
        }
        _ => match text.parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => Ok((code, code)),
            _ => Err(bad()),
        },
    }
}

/// One request as the log holds it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    /// The data plane that answered it.
    #[schema(value_type = String)]
    data_plane_id: mcpgw_shared::DataPlaneId,
    /// The record: time, request_id, trace_id, workspace_id, server_id, server, key_id, user,
    /// http_method, method, target, status, reason, latency_us, upstream_status,
    /// upstream_latency_us, config_seq, server_version.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    record: mcpgw_shared::request_log::RequestRecord,
}

impl From<StoredRequest> for RequestView {
    fn from(stored: StoredRequest) -> Self {
        Self {
            data_plane_id: stored.data_plane_id,
            record: stored.record,
        }
    }
}

/// `GET /v1/requests`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestList {
    /// Newest first.
    requests: Vec<RequestView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Lists the request log, newest first: what every MCP request did, on every data plane.
#[utoipa::path(get, path = "/v1/requests", params(RequestsQuery), responses((status = 200, body = RequestList)))]
pub async fn list(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    query: Result<Query<RequestsQuery>, QueryRejection>,
) -> Result<Json<RequestList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid_field("query", e.body_text()))?;
    let (filter, limit) = query.filter()?;
    let page = service.requests(&admin, filter, limit).await?;
    Ok(Json(RequestList {
        requests: page.records.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Follows the request log live as server-sent events (`event: request`, data: a request as in
/// the list), with the list's filters (`cursor` and `limit` do not apply). A reader too slow
/// to keep up gets `event: lagged` with the number of records it missed.
#[utoipa::path(get, path = "/v1/requests/tail", params(RequestsQuery), responses((status = 200, content_type = "text/event-stream", body = String)))]
pub async fn tail(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    query: Result<Query<RequestsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid_field("query", e.body_text()))?;
    let (filter, _) = query.filter()?;
    let (receiver, filter) = service.tail_requests(&admin, filter);
    let events = BroadcastStream::new(receiver).filter_map(move |item| {
        let event = match item {
            Ok(stored) if filter.matches(&stored) => Event::default()
                .event("request")
                .json_data(RequestView::from((*stored).clone()))
                .ok(),
            Ok(_) => None,
            Err(BroadcastStreamRecvError::Lagged(missed)) => Some(
                Event::default()
                    .event("lagged")
                    .data(format!("{{\"missed\":{missed}}}")),
            ),
        };
        std::future::ready(event.map(Ok))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `GET /v1/requests/{request_id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestDiagnosisView {
    /// The record.
    request: RequestView,
    /// What happened and what to do.
    diagnosis: DiagnosisView,
    /// The configuration that applied.
    config: ConfigView,
}

/// The cause and the fix.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiagnosisView {
    /// `ok`, `refused` (4xx) or `failed` (5xx).
    outcome: &'static str,
    /// What happened.
    cause: String,
    /// What to do (empty when nothing is to be done).
    fix: String,
}

/// The configuration versions that applied, and what changed since.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConfigView {
    /// The configuration sequence the data plane had applied.
    applied_seq: i64,
    /// The head of the event log now.
    head_seq: i64,
    /// The server's version the data plane used.
    server_version: Option<i64>,
    /// The server's version now.
    current_server_version: Option<i64>,
    /// The server's changes after the version used.
    #[schema(value_type = Vec<Object>)]
    server_changes_since: Vec<serde_json::Value>,
}

fn change_view(version: ServerVersion) -> serde_json::Value {
    serde_json::json!({
        "version": version.version,
        "seq": version.seq,
        "change": version.change,
        "actor": version.actor,
        "at": version.at,
        "fields": version.changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
    })
}

/// One request, with the diagnosis of its outcome: the cause, the fix, and the configuration
/// versions that applied. Paste the `request_id` of any gateway error here.
#[utoipa::path(get, path = "/v1/requests/{request_id}", params(("request_id" = String, Path, description = "The request id (`x-request-id`, or `data.request_id` of an error)")), responses((status = 200, body = RequestDiagnosisView), (status = 404)))]
pub async fn show(
    State(service): State<Service>,
    AdminAuth(admin): AdminAuth,
    Path(request_id): Path<String>,
) -> Result<Json<RequestDiagnosisView>, ApiError> {
    let RequestDiagnosis {
        request,
        diagnosis,
        config,
    } = service.request(&admin, &request_id).await?;
    Ok(Json(RequestDiagnosisView {
        request: request.into(),
        diagnosis: DiagnosisView {
            outcome: diagnosis.outcome,
            cause: diagnosis.cause,
            fix: diagnosis.fix,
        },
        config: ConfigView {
            applied_seq: config.applied_seq,
            head_seq: config.head_seq,
            server_version: config.server_version,
            current_server_version: config.current_server_version,
            server_changes_since: config
                .server_changes_since
                .into_iter()
                .map(change_view)
                .collect(),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_status;

    #[test]
    fn statuses_and_classes_parse() {
        assert_eq!(parse_status("502").unwrap(), (502, 502));
        assert_eq!(parse_status("5xx").unwrap(), (500, 599));
        assert_eq!(parse_status("4XX").unwrap(), (400, 499));
        for bad in ["6xx", "99", "abc", "5x", ""] {
            assert!(parse_status(bad).is_err(), "{bad}");
        }
    }
}
