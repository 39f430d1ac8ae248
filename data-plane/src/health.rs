//! `/healthz` (the process runs) and `/readyz` (the configuration is loaded and current, with
//! the applied sequence), for probes and for operators.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::snapshot::ConfigStore;

/// The health routes.
pub fn router(store: ConfigStore) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(store)
}

async fn ready(State(store): State<ConfigStore>) -> (StatusCode, Json<Value>) {
    let config = store.load();
    let status = if config.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": config.is_ready(),
            "applied_seq": config.seq(),
        })),
    )
}
