//! The OpenAPI document.

use axum::Json;
use utoipa::OpenApi;

use super::{
    api_keys, connections, data_planes, events, oauth, requests, servers, views, workspaces,
};
use crate::application::{
    IssueApiKeyInput, RegisterDataPlaneInput, RegisterServerInput, RevokeDataPlaneInput,
    RevokeGrantsInput, RotateTokenInput, UpdateServerInput,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MCP Gateway admin API",
        description = "Workspaces, MCP servers, API keys, data planes, the gateway's OAuth authorization server and the audit log. Authenticate with `Authorization: Bearer <admin API key>`."
    ),
    paths(
        workspaces::create,
        workspaces::list,
        workspaces::show,
        workspaces::update,
        servers::create,
        servers::list,
        servers::show,
        servers::history,
        servers::diagnose,
        servers::test_auth,
        servers::update,
        servers::delete,
        connections::list,
        connections::revoke,
        api_keys::create,
        api_keys::list,
        api_keys::show,
        api_keys::revoke,
        events::list,
        requests::list,
        requests::tail,
        requests::show,
        data_planes::create,
        data_planes::list,
        data_planes::show,
        data_planes::rotate_token,
        data_planes::revoke,
        data_planes::delete,
        data_planes::nats_authorization,
        oauth::list_clients,
        oauth::revoke_client,
        oauth::list_grants,
        oauth::revoke_grant,
        oauth::revoke_grants,
        oauth::list_signing_keys,
        oauth::rotate_signing_key,
    ),
    components(schemas(
        workspaces::CreateWorkspace,
        workspaces::UpdateWorkspace,
        workspaces::WorkspaceList,
        RegisterServerInput,
        UpdateServerInput,
        servers::ServerList,
        connections::ConnectionList,
        connections::ConnectionView,
        servers::ServerHistory,
        servers::DiagnoseRequest,
        IssueApiKeyInput,
        api_keys::ApiKeyList,
        RegisterDataPlaneInput,
        RotateTokenInput,
        RevokeDataPlaneInput,
        data_planes::DataPlaneList,
        events::EventList,
        requests::RequestList,
        requests::RequestView,
        requests::RequestDiagnosisView,
        requests::DiagnosisView,
        requests::ConfigView,
        views::WorkspaceView,
        views::ServerView,
        views::ApiKeyView,
        views::DataPlaneView,
        views::InstanceView,
        views::TokenView,
        views::IssuedTokenView,
        views::EventView,
        views::ServerVersionView,
        views::ServerChangeView,
        oauth::ClientView,
        oauth::ClientList,
        oauth::GrantView,
        oauth::GrantList,
        oauth::SigningKeyView,
        oauth::SigningKeyList,
        oauth::RevokedGrants,
        RevokeGrantsInput,
    ))
)]
struct ApiDoc;

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
