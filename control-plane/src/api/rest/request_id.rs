//! Error bodies carry the request id: handlers return [`ApiError`], which this middleware
//! renders with the id the shared request-id layer gave the request.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mcpgw_shared::request_id::RequestId;

use super::error::ApiError;

/// Middleware: renders an [`ApiError`] left in the response with the request's id.
pub async fn render_errors(request: Request, next: Next) -> Response {
    let id = RequestId::of(&request);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        if error.status.is_server_error() {
            tracing::error!(request_id = %id, %method, %path, error = %error.message, "admin API request failed");
        }
        response = error.render(id.as_str()).into_response();
    }
    response
}
