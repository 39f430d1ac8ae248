//! A request id for every request: made here, carried in the request's extensions, returned in
//! `x-request-id` on every response (errors included) and sent upstream for correlation.

use std::fmt;
use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

/// The header that carries the request id.
pub const X_REQUEST_ID: &str = "x-request-id";

/// The gateway's id of one HTTP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A new, unique id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string().into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Middleware: assigns the id (a client-sent `x-request-id` is not trusted) and sets the header.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = RequestId::generate();
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    let value = HeaderValue::from_str(id.as_str()).expect("a simple uuid is a valid header value");
    response.headers_mut().insert(X_REQUEST_ID, value);
    response
}
