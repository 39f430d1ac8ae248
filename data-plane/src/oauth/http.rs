//! HTTP for the `oauth2` crate and for metadata: the gateway's egress-checked client, no
//! redirects, every answer bounded in size and time. `oauth2` 5 is built on an older reqwest,
//! so it gets this function instead of a client.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use url::Url;

use crate::egress::{EgressDenied, EgressPolicy};
use crate::errors::{error_chain, find_cause};

/// Largest answer read from an authorization server.
pub const MAX_ANSWER: usize = 64 * 1024;
/// Time allowed for one call to an authorization server, answer included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A call to an authorization server failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The egress policy refused the address.
    #[error("{0}")]
    Egress(#[from] EgressDenied),
    /// The connection or the request failed.
    #[error("{0}")]
    Transport(String),
    /// No complete answer within [`CALL_TIMEOUT`].
    #[error("no answer within {}s", CALL_TIMEOUT.as_secs())]
    Timeout,
    /// The answer is larger than [`MAX_ANSWER`].
    #[error("its answer exceeds {MAX_ANSWER} bytes")]
    TooLarge,
}

/// Sends `request` with `client` after checking its URL against `egress`; reads the answer
/// whole, bounded.
pub async fn call(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    request: http::Request<Vec<u8>>,
) -> Result<http::Response<Vec<u8>>, CallError> {
    let url = Url::parse(&request.uri().to_string())
        .map_err(|e| CallError::Transport(format!("invalid URL: {e}")))?;
    egress.check_url(&url)?;
    let (parts, body) = request.into_parts();
    let exchange = async {
        let response = client
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let mut answer = http::Response::builder().status(response.status());
        if let Some(headers) = answer.headers_mut() {
            *headers = response.headers().clone();
        }
        let mut stream = response.bytes_stream();
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(transport)?;
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(CallError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        answer
            .body(body)
            .map_err(|e| CallError::Transport(e.to_string()))
    };
    tokio::time::timeout(CALL_TIMEOUT, exchange)
        .await
        .map_err(|_| CallError::Timeout)?
}

fn transport(error: reqwest::Error) -> CallError {
    if let Some(denied) = find_cause::<EgressDenied>(&error) {
        return CallError::Egress(denied.clone());
    }
    CallError::Transport(error_chain(&error.without_url()))
}

/// No location answered with a document.
#[derive(Debug)]
pub enum DocumentError {
    /// The egress policy refused an address.
    Egress(EgressDenied),
    /// Every location failed: the ones tried, and what the last one answered.
    NotFound {
        /// The locations, comma-separated.
        tried: String,
        /// The last failure.
        last: String,
    },
}

/// The first JSON document of type `T` among `locations` (fetched in order, each bounded):
/// where it was found, and the document. `what` names the document in failures.
pub async fn first_document<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    locations: &[Url],
    what: &str,
) -> Result<(Url, T), DocumentError> {
    let mut last = String::new();
    for url in locations {
        let request = http::Request::get(url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .expect("a GET of a parsed URL builds");
        let response = match call(client, egress, request).await {
            Ok(response) => response,
            Err(CallError::Egress(denied)) => return Err(DocumentError::Egress(denied)),
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        if !response.status().is_success() {
            last = format!("HTTP {}", response.status().as_u16());
            continue;
        }
        match serde_json::from_slice::<T>(response.body()) {
            Ok(document) => return Ok((url.clone(), document)),
            Err(e) => last = format!("not {what} ({e})"),
        }
    }
    let tried = locations
        .iter()
        .map(Url::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    Err(DocumentError::NotFound { tried, last })
}

/// The function `oauth2` calls to send its requests (each call owns its clones, so its
/// future is `'static`).
pub fn for_oauth2(
    client: reqwest::Client,
    egress: Arc<EgressPolicy>,
) -> impl Fn(oauth2::HttpRequest) -> BoxFuture<'static, Result<oauth2::HttpResponse, CallError>> {
    move |request| {
        let (client, egress) = (client.clone(), egress.clone());
        Box::pin(async move { call(&client, &egress, request).await })
    }
}
