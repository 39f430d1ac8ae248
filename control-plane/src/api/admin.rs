//! The admin API over gRPC (`proto/mcpgw/v1/admin.proto`): a transport adapter over the REST
//! admin API. Each call becomes the REST request it stands for, answered in-process by the
//! same axum router: the same handlers, the same service layer, the same authentication, the
//! same validation and the same error codes, so the two transports cannot drift. An answer's
//! JSON document travels as a `google.protobuf.Struct`; an error becomes a `tonic::Status` whose
//! details carry the REST error code (`ErrorInfo.reason`), the field (`BadRequest`) and the
//! request id (`RequestInfo`).

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use futures::{Stream, StreamExt};
use http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use mcpgw_shared::document::{from_struct, to_struct};
use mcpgw_shared::proto::admin_server::{Admin, AdminServer};
use mcpgw_shared::proto::{
    BodyRequest, ConnectionRequest, CreateWorkspaceRequest, Document, Empty, GetServerRequest,
    IdBodyRequest, IdRequest, ListEventsRequest, ListRequest, Text, UpdateRequest,
};
use mcpgw_shared::request_id::X_REQUEST_ID;
use serde_json::{Value, json};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::ServiceExt;

use super::rest::{self, MAX_BODY_BYTES};
use crate::application::Service;
use crate::metrics::ControlPlaneMetrics;

/// How often `WatchEvents` looks for new events.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// The gRPC admin service.
#[derive(Clone)]
pub struct AdminService {
    rest: Router,
}

impl AdminService {
    /// The admin service over `service` (its calls count in `metrics` as the REST routes
    /// they answer as).
    pub fn new(service: Service, metrics: ControlPlaneMetrics) -> Self {
        Self {
            rest: rest::router(service, metrics),
        }
    }

    /// As a tonic server.
    pub fn into_server(self) -> AdminServer<Self> {
        AdminServer::new(self)
    }

    /// Answers `method path` with `body` as the REST API does, with the caller's credential.
    async fn call(
        &self,
        metadata: &MetadataMap,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<i64>,
    ) -> Result<Response<Value>, Status> {
        let mut request = http::Request::builder().method(method).uri(path);
        if let Some(authorization) = metadata.get("authorization").and_then(|v| v.to_str().ok()) {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        if let Some(version) = if_match {
            request = request.header(header::IF_MATCH, format!("\"{version}\""));
        }
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&body).expect("JSON values serialize"))
            }
            None => Body::empty(),
        };
        let request = request
            .body(body)
            .map_err(|e| Status::invalid_argument(format!("not a valid request: {e}")))?;
        let response = self
            .rest
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let request_id = response
            .headers()
            .get(X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = http_body_util::Limited::new(response.into_body(), 4 * MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| Status::internal(format!("reading the answer failed: {e}")))?
            .to_bytes();
        let document: Value = if bytes.is_empty() {
            Value::Null
        } else if let Ok(json) = serde_json::from_slice(&bytes) {
            json
        } else {
            // Only the NATS authorization answers text.
            json!({ "text": String::from_utf8_lossy(&bytes) })
        };
        if !status.is_success() {
            return Err(error_status(status, &document, &request_id));
        }
        let mut response = Response::new(document);
        if let Ok(value) = MetadataValue::try_from(request_id.as_str()) {
            response.metadata_mut().insert(X_REQUEST_ID, value);
        }
        Ok(response)
    }
}

/// A REST error as a gRPC status with details.
fn error_status(status: StatusCode, document: &Value, request_id: &str) -> Status {
    let error = &document["error"];
    let reason = error["code"].as_str().unwrap_or("error");
    let message = error["message"].as_str().unwrap_or("the request failed");
    let field = error["field"].as_str();
    let code = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Code::InvalidArgument,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::CONFLICT if reason == "taken" || reason == "already_exists" => {
            Code::AlreadyExists
        }
        StatusCode::CONFLICT => Code::Aborted,
        StatusCode::PAYLOAD_TOO_LARGE => Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        _ => Code::Internal,
    };
    let mut metadata = HashMap::from([("request_id".to_owned(), request_id.to_owned())]);
    let mut details = ErrorDetails::new();
    if let Some(field) = field {
        metadata.insert("field".to_owned(), field.to_owned());
        details.add_bad_request_violation(field, message);
    }
    details
        .set_error_info(reason, "mcpgw", metadata)
        .set_request_info(request_id, "");
    Status::with_error_details(
        code,
        format!("{message} (request id {request_id})"),
        details,
    )
}

/// A document answer.
fn document(response: Response<Value>) -> Result<Response<Document>, Status> {
    let (metadata, value, extensions) = response.into_parts();
    let body =
        to_struct(value).ok_or_else(|| Status::internal("the answer is not a JSON object"))?;
    Ok(Response::from_parts(
        metadata,
        Document { body: Some(body) },
        extensions,
    ))
}

/// An id for a path: text that cannot be an id is not found, as in REST.
fn id(text: &str) -> Result<&str, Status> {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(text)
    } else {
        Err(Status::not_found(format!("no entity has the id `{text}`")))
    }
}

fn body(body: Option<prost_types::Struct>) -> Option<Value> {
    body.map(from_struct)
}

/// The stream of `WatchEvents`.
type EventStream = Pin<Box<dyn Stream<Item = Result<Document, Status>> + Send>>;

#[tonic::async_trait]
impl Admin for AdminService {
    async fn create_workspace(
        &self,
        request: Request<CreateWorkspaceRequest>,
    ) -> Result<Response<Document>, Status> {
        let name = json!({ "name": request.get_ref().name });
        document(
            self.call(
                request.metadata(),
                Method::POST,
                "/v1/workspaces",
                Some(name),
                None,
            )
            .await?,
        )
    }

    async fn list_workspaces(
        &self,
        request: Request<ListRequest>,
    ) -> Result<Response<Document>, Status> {
        document(
            self.call(
                request.metadata(),
                Method::GET,
                "/v1/workspaces",
                None,
                None,
            )
            .await?,
        )
    }

    async fn get_workspace(
        &self,
        request: Request<IdRequest>,
    ) -> Result<Response<Document>, Status> {
        let path = format!("/v1/workspaces/{}", id(&request.get_ref().id)?);
        document(
            self.call(request.metadata(), Method::GET, &path, None, None)
                .await?,
        )
    }

    async fn update_workspace(
        &self,
        request: Request<UpdateRequest>,
    ) -> Result<Response<Document>, Status> {
        let (metadata, _, update) = request.into_parts();
        let path = format!("/v1/workspaces/{}", id(&update.id)?);
        document(
            self.call(
                &metadata,
                Method::PATCH,
                &path,
                body(update.body),
                update.if_match,
            )
            .await?,
        )
    }

    async fn create_server(
        &self,
        request: Request<BodyRequest>,
    ) -> Result<Response<Document>, Status> {
        let (metadata, _, create) = request.into_parts();
        document(
            self.call(
                &metadata,
                Method::POST,
                "/v1/servers",
                body(create.body),
                None,
            )
            .await?,
        )
    }

    async fn list_servers(
        &self,
        request: Request<ListRequest>,
    ) -> Result<Response<Document>, Status> {
        document(
            self.call(request.metadata(), Method::GET, "/v1/servers", None, None)
                .await?,
        )
    }

    async fn get_server(
        &self,
        request: Request<GetServerRequest>,
    ) -> Result<Response<Document>, Status> {
        let get = request.get_ref();
        let mut path = format!("/v1/servers/{}", id(&get.id)?);
        if let Some(at) = &get.at {
            let at: String = url::form_urlencoded::byte_serialize(at.as_bytes()).collect();
            path.push_str(&format!("?at={at}"));
        }
        document(
            self.call(request.metadata(), Method::GET, &path, None, None)
                .await?,
        )
    }

    async fn server_history(
        &self,
        request: Request<IdRequest>,
    ) -> Result<Response<Document>, Status> {
        let path = format!("/v1/servers/{}/history", id(&request.get_ref().id)?);
        document(
            self.call(request.metadata(), Method::GET, &path, None, None)
                .await?,
        )
    }

    async fn update_server(
        &self,
        request: Request<UpdateRequest>,
    ) -> Result<Response<Document>, Status> {
        let (metadata, _, update) = request.into_parts();
        let path = format!("/v1/servers/{}", id(&update.id)?);
        document(
            self.call(
                &metadata,
                Method::PATCH,
                &path,
                body(update.body),
                update.if_match,
            )
            .await?,
        )
    }

    async fn delete_server(&self, request: Request<IdRequest>) -> Result<Response<Empty>, Status> {
        let path = format!("/v1/servers/{}", id(&request.get_ref().id)?);
        let answer = self
            .call(request.metadata(), Method::DELETE, &path, None, None)
            .await?;
        Ok(answer.map(|_| Empty {}))
    }

    async fn issue_api_key(
        &self,
        request: Request<BodyRequest>,
    ) -> Result<Response<Document>, Status> {
        let (metadata, _, issue) = request.into_parts();
        document(
            self.call(
                &metadata,
                Method::POST,
                "/v1/api-keys",
                body(issue.body),
                None,
            )
            .await?,
        )
    }

    async fn list_api_keys(
        &self,
        request: Request<ListRequest>,
    ) -> Result<Response<Document>, Status> {
        document(
            self.call(request.metadata(), Method::GET, "/v1/api-keys", None, None)
                .await?,
        )
    }

    async fn get_api_key(&self, request: Request<IdRequest>) -> Result<Response<Document>, Status> {
        let path = format!("/v1/api-keys/{}", id(&request.get_ref().id)?);
        document(
            self.call(request.metadata(), Method::GET, &path, None, None)
                .await?,
        )
    }

    async fn revoke_api_key(
        &self,
        request: Request<IdRequest>,
    ) -> Result<Response<Document>, Status> {
        let path = format!("/v1/api-keys/{}/revoke", id(&request.get_ref().id)?);
        document(
            self.call(request.metadata(), Method::POST, &path, None, None)
                .await?,
        )
    }

    async fn list_events(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<Response<Document>, Status> {
        let list = request.get_ref();
        let path = format!(
            "/v1/events?after={}&limit={}",
            list.after,
            list.limit.unwrap_or(100)
        );
        document(
            self.call(request.metadata(), Method::GET, &path, None, None)
                .await?,
        )
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let (metadata, _, watch) = request.into_parts();
        let service = self.clone();
        // The first page answers now, so a bad key fails the call rather than the stream.
        let path = |after: i64| format!("/v1/events?after={after}&limit=500");
        let first = service
            .call(&metadata, Method::GET, &path(watch.after), None, None)
            .await?
            .into_inner();
        let stream = event_stream(service, metadata, watch.after, first, path);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn register_data_plane(
        &self,
        request: Request<BodyRequest>,
    ) -> Result<Response<Document>, Status> {
        let (metadata, _, register) = request.into_parts();
        document(
            self.call(
                &metadata,
                Method::POST,
                "/v1/data-planes",
                body(register.body),
                None,
            )
            .await?,
        )
    }

    async fn list_data_planes(
        &self,
        request: Request<ListRequest>,
    ) -> Result<Response<Document>, Status> {
        document(
            self.call(
                request.metadata(),
                Method::GET,
                "/v1/data-planes",
                None,
                None,
            )
            .await?,
        )
    }

    async fn get_data_plane(
        &self,
        request: Request<IdRequest>,
    ) -> Result<Response<Document>, Status> {
        let path = format!("/v1/data-planes/{}", id(&request.get_ref().id)?);
        document(
            self.call(request.metadata(), Method::GET, &path, None, None)
                .await?,
        )
    }

    async fn rotate_data_plane_token(
        &self,
        request: Request<IdBodyRequest>,
    ) -> Result<Response<Document>, Status> {
        let (metadata, _, rotate) = request.into_parts();
        let path = format!("/v1/data-planes/{}/rotate-token", id(&rotate.id)?);
        document(
            self.call(&metadata, Method::POST, &path, body(rotate.body), None)
                .await?,
        )
    }

    async fn diagnose_server(
        &self,
        request: Request<IdBodyRequest>,
    ) -> Result<Response<Document>, Status> {
        let (metadata, _, diagnose) = request.into_parts();
        let path = format!("/v1/servers/{}/diagnose", id(&diagnose.id)?);
        document(
            self.call(&metadata, Method::POST, &path, body(diagnose.body), None)
                .await?,
        )
    }

    async fn test_server_auth(
        &self,
        request: Request<IdRequest>,
    ) -> Result<Response<Document>, Status> {
        let path = format!("/v1/servers/{}/test-auth", id(&request.get_ref().id)?);
        document(
            self.call(request.metadata(), Method::POST, &path, None, None)
                .await?,
        )
    }

    async fn list_connections(
        &self,
        request: Request<IdRequest>,
    ) -> Result<Response<Document>, Status> {
        let path = format!("/v1/servers/{}/connections", id(&request.get_ref().id)?);
        document(
            self.call(request.metadata(), Method::GET, &path, None, None)
                .await?,
        )
    }

    async fn revoke_connection(
        &self,
        request: Request<ConnectionRequest>,
    ) -> Result<Response<Empty>, Status> {
        let connection = request.get_ref();
        // The user id is any text: one percent-encoded path segment.
        let mut url = url::Url::parse("http://admin/v1/servers").expect("a static URL");
        url.path_segments_mut()
            .expect("an http URL has segments")
            .push(id(&connection.server_id)?)
            .push("connections")
            .push(&connection.user_id);
        let answer = self
            .call(request.metadata(), Method::DELETE, url.path(), None, None)
            .await?;
        Ok(answer.map(|_| Empty {}))
    }

    async fn revoke_data_plane(
        &self,
        request: Request<IdBodyRequest>,
    ) -> Result<Response<Document>, Status> {
        let (metadata, _, revoke) = request.into_parts();
        let path = format!("/v1/data-planes/{}/revoke", id(&revoke.id)?);
        document(
            self.call(&metadata, Method::POST, &path, body(revoke.body), None)
                .await?,
        )
    }

    async fn delete_data_plane(
        &self,
        request: Request<IdRequest>,
    ) -> Result<Response<Empty>, Status> {
        let path = format!("/v1/data-planes/{}", id(&request.get_ref().id)?);
        let answer = self
            .call(request.metadata(), Method::DELETE, &path, None, None)
            .await?;
        Ok(answer.map(|_| Empty {}))
    }

    async fn nats_authorization(
        &self,
        request: Request<ListRequest>,
    ) -> Result<Response<Text>, Status> {
        let answer = self
            .call(
                request.metadata(),
                Method::GET,
                "/v1/nats/authorization",
                None,
                None,
            )
            .await?;
        Ok(answer.map(|value| Text {
            text: value["text"].as_str().unwrap_or_default().to_owned(),
        }))
    }
}

/// Events after `after` as they are committed: the events of `first`, then a page every
/// [`WATCH_INTERVAL`]; ends after reporting a failure, or when the caller goes away.
fn event_stream(
    service: AdminService,
    metadata: MetadataMap,
    after: i64,
    first: Value,
    path: impl Fn(i64) -> String + Send + 'static,
) -> impl Stream<Item = Result<Document, Status>> + Send {
    futures::stream::unfold(
        (Some(first), after, false),
        move |(page, mut cursor, failed)| {
            let service = service.clone();
            let metadata = metadata.clone();
            let path = path(cursor);
            async move {
                if failed {
                    return None;
                }
                let page = match page {
                    Some(page) => page,
                    None => {
                        tokio::time::sleep(WATCH_INTERVAL).await;
                        match service
                            .call(&metadata, Method::GET, &path, None, None)
                            .await
                        {
                            Ok(answer) => answer.into_inner(),
                            Err(status) => return Some((vec![Err(status)], (None, cursor, true))),
                        }
                    }
                };
                let events: Vec<Result<Document, Status>> = page["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|event| {
                        cursor = cursor.max(event["seq"].as_i64().unwrap_or(cursor));
                        to_struct(event.clone()).map(|body| Ok(Document { body: Some(body) }))
                    })
                    .collect();
                Some((events, (None, cursor, false)))
            }
        },
    )
    .flat_map(futures::stream::iter)
}
