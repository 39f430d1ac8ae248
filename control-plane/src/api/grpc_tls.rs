//! The gRPC listener's TLS: from the certificate, key and optional client CA files to tonic's
//! server configuration. Without a certificate the listener is clear text, which is for
//! loopback (standalone mode, a sidecar) only: a warning says so for any other address.

use std::net::SocketAddr;

use mcpgw_shared::secret_file::{NamedFileError, read_named};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::config::GrpcTlsArgs;

/// The TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GrpcTlsError {
    /// Only one of certificate and key.
    #[error("gRPC TLS needs both MCPGW_GRPC_TLS_CERT and MCPGW_GRPC_TLS_KEY")]
    HalfIdentity,
    /// A client CA without a server certificate.
    #[error(
        "MCPGW_GRPC_TLS_CLIENT_CA (mutual TLS) needs MCPGW_GRPC_TLS_CERT and MCPGW_GRPC_TLS_KEY"
    )]
    ClientCaWithoutTls,
    /// A file cannot be read.
    #[error(transparent)]
    File(#[from] NamedFileError),
}

/// The server TLS configuration, or `None` for clear text.
pub fn server_tls(
    args: &GrpcTlsArgs,
    addr: SocketAddr,
) -> Result<Option<ServerTlsConfig>, GrpcTlsError> {
    let (cert, key) = match (&args.grpc_tls_cert, &args.grpc_tls_key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, None) if args.grpc_tls_client_ca.is_some() => {
            return Err(GrpcTlsError::ClientCaWithoutTls);
        }
        (None, None) => {
            if !addr.ip().is_loopback() {
                tracing::warn!(
                    %addr,
                    "the gRPC sync API listens beyond loopback in clear text: data planes will refuse it unless MCPGW_INSECURE_SYNC is set; set MCPGW_GRPC_TLS_CERT and MCPGW_GRPC_TLS_KEY"
                );
            }
            return Ok(None);
        }
        _ => return Err(GrpcTlsError::HalfIdentity),
    };
    let identity = Identity::from_pem(
        read_named("MCPGW_GRPC_TLS_CERT", cert)?,
        read_named("MCPGW_GRPC_TLS_KEY", key)?,
    );
    let mut tls = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &args.grpc_tls_client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read_named(
            "MCPGW_GRPC_TLS_CLIENT_CA",
            ca,
        )?));
    }
    Ok(Some(tls))
}
