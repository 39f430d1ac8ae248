//! The gRPC admin client: connects (TLS for `https://`), presents the admin key on every call,
//! and turns statuses into errors that say what went wrong and the request id.

use std::time::Duration;

use mcpgw_shared::document::{from_struct, to_struct};
use mcpgw_shared::proto::Document;
use mcpgw_shared::proto::admin_client::AdminClient;
use mcpgw_shared::secret_file::read_named;
use serde_json::Value;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic_types::StatusExt;

use crate::command::Connection;

/// A command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The settings are unusable.
    #[error("{0}")]
    Usage(String),
    /// The control plane cannot be reached.
    #[error("cannot reach the control plane at {url} (MCPGW_ADMIN_URL): {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The doctor found a failing step.
    #[error("the doctor found a problem: {0}")]
    Unhealthy(String),
    /// The control plane refused or failed the call.
    #[error("{message}")]
    Refused {
        /// The REST error code (`invalid_field`, `taken`, …).
        reason: String,
        /// What it said, with the request id.
        message: String,
    },
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        let reason = status
            .get_details_error_info()
            .map(|info| info.reason)
            .unwrap_or_else(|| format!("{:?}", status.code()));
        Self::Refused {
            message: format!("{reason}: {}", status.message()),
            reason,
        }
    }
}

/// An authenticated admin client.
#[derive(Clone)]
pub struct Admin {
    client: AdminClient<Channel>,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Admin {
    /// Connects as `connection` says.
    pub async fn connect(connection: &Connection) -> Result<Self, CliError> {
        let url = &connection.admin_url;
        let unreachable = |reason: String| CliError::Unreachable {
            url: url.clone(),
            reason,
        };
        let mut endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| CliError::Usage(format!("MCPGW_ADMIN_URL `{url}`: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30));
        if url.starts_with("https://") {
            let tls = match &connection.admin_ca {
                Some(path) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(
                    read_named("MCPGW_ADMIN_CA", path)
                        .map_err(|e| CliError::Usage(e.to_string()))?,
                )),
                None => ClientTlsConfig::new().with_native_roots(),
            };
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| CliError::Usage(format!("TLS settings: {e}")))?;
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let authorization = connection
            .admin_key
            .as_ref()
            .map(|key| {
                format!("Bearer {key}").parse().map_err(|_| {
                    CliError::Usage("MCPGW_ADMIN_KEY has characters a key cannot have".into())
                })
            })
            .transpose()?;
        Ok(Self {
            client: AdminClient::new(channel),
            authorization,
        })
    }

    /// `message` with the admin key attached.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        request
    }

    /// The generated client, for a call.
    pub fn client(&self) -> AdminClient<Channel> {
        self.client.clone()
    }
}

/// A document answer as JSON.
pub fn json(response: tonic::Response<Document>) -> Value {
    response
        .into_inner()
        .body
        .map(from_struct)
        .unwrap_or(Value::Null)
}

/// A JSON object as a request body.
pub fn body(value: Value) -> Option<prost_types::Struct> {
    to_struct(value)
}
