//! Calls to the admin REST API with a bearer key.

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Sends `method url` with `key` and an optional JSON body; returns the status and the body as
/// JSON (a string when it is not JSON, null when empty).
pub async fn call(
    http: &reqwest::Client,
    key: &str,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http.request(method, url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the admin API answers");
    let status = response.status();
    let text = response.text().await.expect("read the body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, json)
}
