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

/// The body of `POST /v1/api-keys` for a service key of `workspace` that may invoke servers.
pub fn invoke_key_request(workspace: &str, name: &str) -> Value {
    serde_json::json!({
        "workspace_id": workspace,
        "name": name,
        "type": "service",
        "permissions": ["mcp.invoke"],
    })
}

/// The path that revokes key `id`.
pub fn revoke_path(id: &str) -> String {
    format!("/v1/api-keys/{id}/revoke")
}
