//! The one mapping from failures to HTTP responses. Handlers return [`ApiError`]; the request-id
//! middleware renders it as `{"error": {"code", "message", "field"?, "request_id"}}`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::application::ServiceError;
use crate::domain::DomainError;

/// An error answer of the admin API.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
    /// The request field at fault, as a path (`auth.headers.X-Api-Key`).
    pub field: Option<String>,
}

impl ApiError {
    /// An error without a field.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A 422 naming the field at fault.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
        }
    }

    /// The response with the request id.
    pub fn render(&self, request_id: &str) -> Response {
        let mut body = json!({
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        });
        if let Some(field) = &self.field {
            body["field"] = json!(field);
        }
        let mut response = (self.status, Json(json!({ "error": body }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"mcpgw-admin\""),
            );
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Domain(DomainError::Invalid { field, message }) => {
                Self::invalid_field(field, message)
            }
            e @ (ServiceError::Domain(DomainError::NotFound { .. })
            | ServiceError::NoSuchSlug { .. }) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            ServiceError::Domain(e @ DomainError::AlreadyExists { .. }) => {
                Self::new(StatusCode::CONFLICT, "already_exists", e.to_string())
            }
            ServiceError::Domain(DomainError::Refused(refusal)) => Self::new(
                StatusCode::BAD_REQUEST,
                refusal.error.as_str(),
                refusal.description,
            ),
            e @ ServiceError::VersionConflict { .. } => {
                Self::new(StatusCode::CONFLICT, "version_conflict", e.to_string())
            }
            ServiceError::Taken(taken) => Self {
                field: Some(taken.field().to_owned()),
                ..Self::new(
                    StatusCode::CONFLICT,
                    "taken",
                    format!("{taken}; choose another"),
                )
            },
            ServiceError::Forbidden(forbidden) => {
                Self::new(StatusCode::FORBIDDEN, "forbidden", forbidden.to_string())
            }
            ServiceError::Unauthenticated(refused) => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                refused.to_string(),
            ),
            e @ ServiceError::SnapshotNeeded { .. } => {
                Self::new(StatusCode::CONFLICT, "snapshot_needed", e.to_string())
            }
            ServiceError::SecretUnreadable {
                owner,
                field,
                source,
            } => {
                tracing::error!(%owner, field, error = %source, "a stored secret does not open");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "secret_unreadable",
                    "a stored secret cannot be decrypted with the configured MCPGW_SECRET_KEY; report the request id to the operator",
                )
            }
            ServiceError::Signing(e) => {
                tracing::error!(error = %e, "an access-token signing key failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "signing_key_failed",
                    "the access-token signing key cannot be made or used; report the request id to the operator",
                )
            }
            ServiceError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the control plane's database failed; retry shortly and report the request id if it persists",
                )
            }
        }
    }
}

/// Fallback for unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /openapi.json",
    )
}

/// Fallback for known paths with another method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see /openapi.json",
    )
}
