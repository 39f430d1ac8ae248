//! The REST admin API under `/v1`, with its OpenAPI document at `/openapi.json`.

mod api_keys;
mod connections;
mod data_planes;
mod error;
mod events;
mod extract;
mod oauth;
mod openapi;
mod request_id;
mod requests;
mod servers;
mod views;
mod workspaces;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};

pub use error::ApiError;

use crate::application::Service;
use crate::metrics::{ControlPlaneMetrics, count_admin};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The REST API's router; requests are counted in `metrics` by route.
pub fn router(service: Service, metrics: ControlPlaneMetrics) -> Router {
    let v1 = Router::new()
        .route(
            "/workspaces",
            post(workspaces::create).get(workspaces::list),
        )
        .route(
            "/workspaces/{id}",
            get(workspaces::show).patch(workspaces::update),
        )
        .route("/servers", post(servers::create).get(servers::list))
        .route(
            "/servers/{id}",
            get(servers::show)
                .patch(servers::update)
                .delete(servers::delete),
        )
        .route("/servers/{id}/history", get(servers::history))
        .route("/servers/{id}/diagnose", post(servers::diagnose))
        .route("/servers/{id}/test-auth", post(servers::test_auth))
        .route("/servers/{id}/connections", get(connections::list))
        .route(
            "/servers/{id}/connections/{user_id}",
            delete(connections::revoke),
        )
        .route("/api-keys", post(api_keys::create).get(api_keys::list))
        .route("/api-keys/{id}", get(api_keys::show))
        .route("/api-keys/{id}/revoke", post(api_keys::revoke))
        .route("/events", get(events::list))
        .route("/requests", get(requests::list))
        .route("/requests/tail", get(requests::tail))
        .route("/requests/{request_id}", get(requests::show))
        .route(
            "/data-planes",
            post(data_planes::create).get(data_planes::list),
        )
        .route(
            "/data-planes/{id}",
            get(data_planes::show).delete(data_planes::delete),
        )
        .route(
            "/data-planes/{id}/rotate-token",
            post(data_planes::rotate_token),
        )
        .route("/data-planes/{id}/revoke", post(data_planes::revoke))
        .route("/nats/authorization", get(data_planes::nats_authorization))
        .route("/oauth/clients", get(oauth::list_clients))
        .route("/oauth/clients/{id}", delete(oauth::revoke_client))
        .route("/oauth/grants", get(oauth::list_grants))
        .route("/oauth/grants/revoke", post(oauth::revoke_grants))
        .route("/oauth/grants/{id}", delete(oauth::revoke_grant))
        .route("/oauth/signing-keys", get(oauth::list_signing_keys))
        .route(
            "/oauth/signing-keys/rotate",
            post(oauth::rotate_signing_key),
        );
    Router::new()
        .nest("/v1", v1)
        .route("/openapi.json", get(openapi::document))
        .route("/healthz", get(|| async { "ok" }))
        .route_layer(axum::middleware::from_fn_with_state(metrics, count_admin))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_id::render_errors))
        .layer(axum::middleware::from_fn(mcpgw_shared::request_id::assign))
        .with_state(service)
}
