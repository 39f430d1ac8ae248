//! What the gRPC services for data planes share: authenticating the data plane's token, the
//! one classifier of service errors into statuses, and a span and a count per call.

use mcpgw_shared::bearer::bearer_token;
use mcpgw_shared::telemetry::sampling;
use tonic::{Request, Status};
use tracing::Instrument;

use crate::application::{Service, ServiceError};
use crate::domain::DomainError;
use crate::store::DataPlaneRow;

/// Runs one call of `service` (such as `mcpgw.v1.ConfigSync`) in its span (a gRPC server span
/// in traces) and hands its outcome to `count`.
pub async fn observed<T>(
    service: &'static str,
    method: &'static str,
    count: impl FnOnce(Result<(), tonic::Code>),
    call: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let traced = async {
        let span = tracing::info_span!(
            "grpc",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            mcpgw.data_plane = tracing::field::Empty,
        );
        call.instrument(span).await
    };
    let result = sampling::scope(sampling::decide(None), traced).await;
    count(result.as_ref().map(|_| ()).map_err(Status::code));
    result
}

/// The data plane whose token `request` carries (`authorization: Bearer <token>`), recorded
/// in the call's span.
pub async fn authenticate<T>(
    service: &Service,
    request: &Request<T>,
) -> Result<DataPlaneRow, Status> {
    let header = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Status::unauthenticated(
                "send the data-plane token as `authorization: Bearer <MCPGW_DATA_PLANE_TOKEN>`",
            )
        })?;
    let token = bearer_token(header).ok_or_else(|| {
        Status::unauthenticated("the authorization metadata must be `Bearer <token>`")
    })?;
    let data_plane = service
        .authenticate_data_plane(token)
        .await
        .map_err(status)?;
    tracing::Span::current().record("mcpgw.data_plane", tracing::field::display(data_plane.id));
    Ok(data_plane)
}

/// Maps a service error to a gRPC status (the one classifier for the data planes' APIs).
pub fn status(error: ServiceError) -> Status {
    match &error {
        ServiceError::Unauthenticated(_) => Status::unauthenticated(error.to_string()),
        ServiceError::Forbidden(_) => Status::permission_denied(error.to_string()),
        ServiceError::Domain(DomainError::NotFound { .. }) | ServiceError::NoSuchSlug { .. } => {
            Status::not_found(error.to_string())
        }
        ServiceError::Domain(_) => Status::invalid_argument(error.to_string()),
        ServiceError::VersionConflict { .. } | ServiceError::Taken(_) => {
            Status::aborted(error.to_string())
        }
        ServiceError::SnapshotNeeded { .. } => Status::failed_precondition(error.to_string()),
        ServiceError::SecretUnreadable { .. } | ServiceError::Signing(_) => {
            Status::internal(error.to_string())
        }
        ServiceError::Store(inner) => {
            tracing::error!(error = %inner, "data-plane API store failure");
            Status::unavailable("the control plane's database failed; retry shortly")
        }
    }
}
