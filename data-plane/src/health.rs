//! `/healthz` (the process runs) and `/readyz` (the configuration is loaded and current, with
//! the applied sequence), for probes and for operators; and the `health` probe the container
//! images run.

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

/// `health` subcommand of both binaries: GET `url` from inside the container (images have no
/// shell or curl) and succeed on a 2xx answer within 5 s; for Docker's `HEALTHCHECK`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// What to ask.
    #[arg(long)]
    pub url: String,
}

/// The probe failed: the message says why.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {reason}")]
pub struct ProbeFailed {
    url: String,
    reason: String,
}

/// Asks `args.url` once.
pub async fn probe(args: &ProbeArgs) -> Result<(), ProbeFailed> {
    let failed = |reason: String| ProbeFailed {
        url: args.url.clone(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .no_proxy()
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let response = client
        .get(&args.url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(failed(format!("answered {}", response.status())))
    }
}
