//! The admin API's two transports against one table of cases: each case runs over REST on one
//! control plane and over gRPC on another, set up alike, and must give the same outcome — the
//! same document shape on success, the same error code (`ErrorInfo.reason` over gRPC), field
//! and class of status on failure.

use std::sync::Arc;
use std::time::Duration;

use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::control_plane::TestControlPlane;
use mcpgw_e2e::db::Backend;
use mcpgw_shared::bus::InProcessBus;
use mcpgw_shared::document::{from_struct, to_struct};
use mcpgw_shared::proto::admin_client::AdminClient;
use mcpgw_shared::proto::{
    BodyRequest, CreateWorkspaceRequest, IdBodyRequest, IdRequest, ListEventsRequest, ListRequest,
    UpdateRequest,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// One admin operation, spoken in either transport.
#[derive(Debug, Clone)]
enum Call {
    CreateWorkspace(&'static str),
    ListWorkspaces,
    GetWorkspace(String),
    CreateServer(Value),
    UpdateServer(String, Value),
    IssueApiKey(Value),
    RevokeApiKey(String),
    RotateToken(String, Value),
}

/// Which key a case presents.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Admin,
    InvokeOnly,
    Nobody,
}

struct Setup {
    cp: TestControlPlane,
    workspace: String,
    server: String,
    invoke_key: String,
    invoke_key_id: String,
    data_plane: String,
}

async fn setup() -> Setup {
    let cp = TestControlPlane::start(Backend::Sqlite, Arc::new(InProcessBus::default())).await;
    let workspace = cp.create_workspace("transports").await;
    let server = cp
        .post_ok(
            "/v1/servers",
            json!({"workspace_id": workspace, "slug": "demo", "name": "Demo",
                   "url": "https://mcp.example.com/mcp", "auth": {"type": "none"}}),
            StatusCode::CREATED,
        )
        .await;
    let key = cp
        .post_ok(
            "/v1/api-keys",
            invoke_key_request(&workspace, "client"),
            StatusCode::CREATED,
        )
        .await;
    let data_plane = cp
        .post_ok(
            "/v1/data-planes",
            json!({"name": "edge"}),
            StatusCode::CREATED,
        )
        .await;
    Setup {
        workspace,
        server: server["id"].as_str().unwrap().to_owned(),
        invoke_key: key["key"].as_str().unwrap().to_owned(),
        invoke_key_id: key["id"].as_str().unwrap().to_owned(),
        data_plane: data_plane["id"].as_str().unwrap().to_owned(),
        cp,
    }
}

/// The table: what to call, as whom, and the REST status it must give.
fn cases(s: &Setup) -> Vec<(&'static str, Call, Caller, StatusCode)> {
    let server_body = |slug: &str| {
        json!({"workspace_id": s.workspace, "slug": slug, "name": "N",
               "url": "https://mcp.example.com/mcp", "auth": {"type": "none"}})
    };
    vec![
        (
            "create a workspace",
            Call::CreateWorkspace("second"),
            Caller::Admin,
            StatusCode::CREATED,
        ),
        (
            "a taken name",
            Call::CreateWorkspace("transports"),
            Caller::Admin,
            StatusCode::CONFLICT,
        ),
        (
            "an empty name",
            Call::CreateWorkspace(""),
            Caller::Admin,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "list workspaces",
            Call::ListWorkspaces,
            Caller::Admin,
            StatusCode::OK,
        ),
        (
            "no credential",
            Call::ListWorkspaces,
            Caller::Nobody,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a key without admin",
            Call::ListWorkspaces,
            Caller::InvokeOnly,
            StatusCode::FORBIDDEN,
        ),
        (
            "an unknown workspace",
            Call::GetWorkspace("0190c0de-0000-7000-8000-000000000000".into()),
            Caller::Admin,
            StatusCode::NOT_FOUND,
        ),
        (
            "register a server",
            Call::CreateServer(server_body("other")),
            Caller::Admin,
            StatusCode::CREATED,
        ),
        (
            "an unknown field",
            Call::CreateServer(
                json!({"workspace_id": s.workspace, "slug": "x", "name": "x", "url": "https://x.example/mcp", "auth": {"type": "none", "extra": 1}}),
            ),
            Caller::Admin,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a taken slug",
            Call::CreateServer(server_body("demo")),
            Caller::Admin,
            StatusCode::CONFLICT,
        ),
        (
            "a stale version",
            Call::UpdateServer(s.server.clone(), json!({"name": "Renamed", "version": 99})),
            Caller::Admin,
            StatusCode::CONFLICT,
        ),
        (
            "a current version",
            Call::UpdateServer(s.server.clone(), json!({"name": "Renamed", "version": 1})),
            Caller::Admin,
            StatusCode::OK,
        ),
        (
            "issue a key",
            Call::IssueApiKey(invoke_key_request(&s.workspace, "second")),
            Caller::Admin,
            StatusCode::CREATED,
        ),
        (
            "revoke a key",
            Call::RevokeApiKey(s.invoke_key_id.clone()),
            Caller::Admin,
            StatusCode::OK,
        ),
        (
            "rotate a data-plane token",
            Call::RotateToken(s.data_plane.clone(), json!({"overlap_seconds": 60})),
            Caller::Admin,
            StatusCode::CREATED,
        ),
        (
            "an overlap past seven days",
            Call::RotateToken(s.data_plane.clone(), json!({"overlap_seconds": 999999})),
            Caller::Admin,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ]
}

/// An outcome both transports can be compared by.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Success: the document's top-level fields.
    Document(Vec<String>),
    /// Failure: the error code and field.
    Error { code: String, field: Option<String> },
}

fn key_of(s: &Setup, caller: Caller) -> Option<String> {
    match caller {
        Caller::Admin => Some(s.cp.admin_key.clone()),
        Caller::InvokeOnly => Some(s.invoke_key.clone()),
        Caller::Nobody => None,
    }
}

fn fields(document: &Value) -> Vec<String> {
    let mut keys: Vec<String> = document
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

async fn over_rest(s: &Setup, call: &Call, caller: Caller) -> (StatusCode, Outcome) {
    let (method, path, body) = match call {
        Call::CreateWorkspace(name) => (
            Method::POST,
            "/v1/workspaces".to_owned(),
            Some(json!({"name": name})),
        ),
        Call::ListWorkspaces => (Method::GET, "/v1/workspaces".to_owned(), None),
        Call::GetWorkspace(id) => (Method::GET, format!("/v1/workspaces/{id}"), None),
        Call::CreateServer(body) => (Method::POST, "/v1/servers".to_owned(), Some(body.clone())),
        Call::UpdateServer(id, body) => (
            Method::PATCH,
            format!("/v1/servers/{id}"),
            Some(body.clone()),
        ),
        Call::IssueApiKey(body) => (Method::POST, "/v1/api-keys".to_owned(), Some(body.clone())),
        Call::RevokeApiKey(id) => (Method::POST, format!("/v1/api-keys/{id}/revoke"), None),
        Call::RotateToken(id, body) => (
            Method::POST,
            format!("/v1/data-planes/{id}/rotate-token"),
            Some(body.clone()),
        ),
    };
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", s.cp.base_url));
    request = match key_of(s, caller) {
        Some(key) => request.bearer_auth(key),
        None => request,
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let document: Value = response.json().await.unwrap_or(Value::Null);
    let outcome = if status.is_success() {
        Outcome::Document(fields(&document))
    } else {
        Outcome::Error {
            code: document["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            field: document["error"]["field"].as_str().map(str::to_owned),
        }
    };
    (status, outcome)
}

async fn over_grpc(
    s: &Setup,
    client: &mut AdminClient<Channel>,
    call: &Call,
    caller: Caller,
) -> (Code, Outcome) {
    let key = key_of(s, caller);
    fn request<T>(message: T, key: &Option<String>) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(key) = key {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {key}").parse().unwrap());
        }
        request
    }
    let body = |value: &Value| to_struct(value.clone());
    let result = match call {
        Call::CreateWorkspace(name) => {
            client
                .create_workspace(request(
                    CreateWorkspaceRequest {
                        name: (*name).to_owned(),
                    },
                    &key,
                ))
                .await
        }
        Call::ListWorkspaces => client.list_workspaces(request(ListRequest {}, &key)).await,
        Call::GetWorkspace(id) => {
            client
                .get_workspace(request(IdRequest { id: id.clone() }, &key))
                .await
        }
        Call::CreateServer(value) => {
            client
                .create_server(request(BodyRequest { body: body(value) }, &key))
                .await
        }
        Call::UpdateServer(id, value) => {
            client
                .update_server(request(
                    UpdateRequest {
                        id: id.clone(),
                        body: body(value),
                        if_match: None,
                    },
                    &key,
                ))
                .await
        }
        Call::IssueApiKey(value) => {
            client
                .issue_api_key(request(BodyRequest { body: body(value) }, &key))
                .await
        }
        Call::RevokeApiKey(id) => {
            client
                .revoke_api_key(request(IdRequest { id: id.clone() }, &key))
                .await
        }
        Call::RotateToken(id, value) => {
            client
                .rotate_data_plane_token(request(
                    IdBodyRequest {
                        id: id.clone(),
                        body: body(value),
                    },
                    &key,
                ))
                .await
        }
    };
    match result {
        Ok(response) => {
            assert!(
                response.metadata().get("x-request-id").is_some(),
                "{call:?}: the request id comes back"
            );
            let document = response
                .into_inner()
                .body
                .map(from_struct)
                .unwrap_or(Value::Null);
            (Code::Ok, Outcome::Document(fields(&document)))
        }
        Err(status) => {
            let details = status.get_error_details();
            let info = details.error_info().expect("every error carries ErrorInfo");
            assert!(
                !info.metadata["request_id"].is_empty()
                    && status.message().contains(&info.metadata["request_id"]),
                "{call:?}: the request id is in the details and the message"
            );
            if let Some(field) = info.metadata.get("field") {
                let violations = &details
                    .bad_request()
                    .expect("a field error has BadRequest")
                    .field_violations;
                assert_eq!(&violations[0].field, field);
            }
            (
                status.code(),
                Outcome::Error {
                    code: info.reason.clone(),
                    field: info.metadata.get("field").cloned(),
                },
            )
        }
    }
}

/// The gRPC code a REST status stands for.
fn grpc_code(status: StatusCode, outcome: &Outcome) -> Code {
    match (status, outcome) {
        (s, _) if s.is_success() => Code::Ok,
        (StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST, _) => Code::InvalidArgument,
        (StatusCode::UNAUTHORIZED, _) => Code::Unauthenticated,
        (StatusCode::FORBIDDEN, _) => Code::PermissionDenied,
        (StatusCode::NOT_FOUND, _) => Code::NotFound,
        (StatusCode::CONFLICT, Outcome::Error { code, .. }) if code == "taken" => {
            Code::AlreadyExists
        }
        (StatusCode::CONFLICT, _) => Code::Aborted,
        _ => Code::Internal,
    }
}

#[tokio::test]
async fn rest_and_grpc_give_the_same_outcome_for_every_case() {
    let (rest, grpc) = (setup().await, setup().await);
    let mut client = AdminClient::connect(format!("http://{}", grpc.cp.running.grpc_addr))
        .await
        .unwrap();
    let (rest_cases, grpc_cases) = (cases(&rest), cases(&grpc));
    for ((name, rest_call, caller, expected), (_, grpc_call, _, _)) in
        rest_cases.into_iter().zip(grpc_cases)
    {
        let (status, rest_outcome) = over_rest(&rest, &rest_call, caller).await;
        assert_eq!(status, expected, "{name} over REST: {rest_outcome:?}");
        let (code, grpc_outcome) = over_grpc(&grpc, &mut client, &grpc_call, caller).await;
        assert_eq!(
            code,
            grpc_code(status, &rest_outcome),
            "{name} over gRPC: {grpc_outcome:?}"
        );
        assert_eq!(grpc_outcome, rest_outcome, "{name}: the same outcome");
    }
}

#[tokio::test]
async fn watching_events_streams_each_change_as_it_is_committed() {
    let s = setup().await;
    let mut client = AdminClient::connect(format!("http://{}", s.cp.running.grpc_addr))
        .await
        .unwrap();
    let mut request = tonic::Request::new(ListEventsRequest {
        after: 0,
        limit: None,
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", s.cp.admin_key).parse().unwrap(),
    );
    let mut events = client.watch_events(request).await.unwrap().into_inner();
    let mut next = async || {
        let document = tokio::time::timeout(Duration::from_secs(5), events.message())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("the stream goes on");
        from_struct(document.body.unwrap())
    };
    // The history first: the bootstrap admin key, then the setup, in order.
    let mut history = Vec::new();
    let mut last = Value::Null;
    while last["type"] != "DataPlaneRegistered" {
        last = next().await;
        history.push(last["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        history,
        [
            "ApiKeyIssued",
            "WorkspaceCreated",
            "ServerRegistered",
            "ApiKeyIssued",
            "DataPlaneRegistered"
        ]
    );
    s.cp.create_workspace("live").await;
    let live = next().await;
    assert_eq!(live["type"], "WorkspaceCreated");
    assert!(live["seq"].as_i64() > last["seq"].as_i64());

    let mut refused = client
        .watch_events(tonic::Request::new(ListEventsRequest {
            after: 0,
            limit: None,
        }))
        .await;
    assert_eq!(refused.as_mut().unwrap_err().code(), Code::Unauthenticated);
}
