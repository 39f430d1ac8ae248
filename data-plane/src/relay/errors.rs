//! Every error the gateway answers on `/{slug}/mcp`, and the one place that maps each to an
//! HTTP status and a JSON-RPC error body carrying `request_id`, `reason` and a `hint`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::value::RawValue;

use super::session::SessionError;
use mcpgw_shared::request_id::RequestId;

/// JSON-RPC code for a header that does not match the body (2026-07-28).
pub const HEADER_MISMATCH: i64 = -32020;
/// JSON-RPC code for an unsupported protocol version (2026-07-28).
pub const UNSUPPORTED_VERSION: i64 = -32022;
/// JSON-RPC parse error.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC invalid request.
pub const INVALID_REQUEST: i64 = -32600;
/// Generic server error, used for transport-level refusals.
pub const SERVER_ERROR: i64 = -32000;
/// Session not found (the code the reference SDKs use).
pub const SESSION_NOT_FOUND: i64 = -32001;

/// Why the gateway refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No API key in `Authorization: Bearer` or `x-mcpgw-api-key`.
    #[error("no credential was presented")]
    MissingCredential,
    /// The key is malformed, unknown or its secret is wrong (not told apart, on purpose).
    #[error("the credential is not valid")]
    InvalidCredential,
    /// The key was revoked.
    #[error("the API key was revoked")]
    Revoked,
    /// The key expired.
    #[error("the API key has expired")]
    Expired,
    /// The `Host` (or trusted forwarded host) is not one this gateway answers to.
    #[error("host `{0}` is not allowed")]
    HostNotAllowed(String),
    /// A browser `Origin` that is not allowed.
    #[error("origin `{0}` is not allowed")]
    OriginNotAllowed(String),
    /// The key lacks `mcp.invoke`.
    #[error("the API key lacks the `mcp.invoke` permission")]
    MissingPermission,
    /// The server is not provisioned to the key's workspace.
    #[error("server `{0}` is not provisioned to this key's workspace")]
    NotProvisioned(String),
    /// The server is disabled.
    #[error("server `{0}` is disabled")]
    ServerDisabled(String),
    /// No server has this slug.
    #[error("no MCP server at `/{0}/mcp`")]
    UnknownServer(String),
    /// The session id does not open, or belongs to someone or something else.
    #[error("unknown or expired session: {0}")]
    Session(#[from] SessionError),
    /// The upstream no longer knows the session.
    #[error("the upstream server ended this session")]
    UpstreamSessionGone,
    /// The body is larger than the limit.
    #[error("the request body exceeds {0} bytes")]
    BodyTooLarge(usize),
    /// The body is not JSON.
    #[error("the request body is not valid JSON")]
    Parse,
    /// The body is JSON but not a JSON-RPC message the gateway accepts.
    #[error("invalid JSON-RPC message: {0}")]
    InvalidRequest(&'static str),
    /// A batch outside a session negotiated at 2025-03-26.
    #[error(
        "JSON-RPC batches are only allowed in sessions negotiated at protocol version 2025-03-26"
    )]
    BatchNotAllowed,
    /// A 2026-07-28 routing header disagrees with the body.
    #[error("header `{header}` does not match the request body")]
    HeaderMismatch {
        /// The header at fault.
        header: &'static str,
    },
    /// The `MCP-Protocol-Version` header names a version the gateway does not know.
    #[error("unsupported protocol version `{0}`")]
    UnsupportedVersion(String),
    /// The method needs a session this protocol version has (GET and DELETE).
    #[error("this request needs an `Mcp-Session-Id` header")]
    SessionRequired,
    /// The gateway could not connect to the upstream.
    #[error("could not connect to the upstream {upstream}: {detail}")]
    UpstreamUnreachable {
        /// The upstream's URL.
        upstream: String,
        /// What failed.
        detail: String,
    },
    /// The upstream did not answer in time.
    #[error("the upstream {upstream} did not answer within {secs}s")]
    UpstreamTimeout {
        /// The upstream's URL.
        upstream: String,
        /// The timeout that elapsed.
        secs: u64,
    },
    /// The upstream answered with a server error, or a broken response.
    #[error("the upstream {upstream} failed: {detail}")]
    UpstreamFailed {
        /// The upstream's URL.
        upstream: String,
        /// What went wrong.
        detail: String,
    },
    /// The upstream refused the gateway's own credentials.
    #[error("the upstream {upstream} refused the gateway's credentials (HTTP {status})")]
    UpstreamAuth {
        /// The upstream's URL.
        upstream: String,
        /// The upstream's status.
        status: u16,
    },
    /// No configuration yet, or too stale to trust.
    #[error("the gateway has no current configuration")]
    NotReady,
}

impl GatewayError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        use GatewayError::*;
        match self {
            MissingCredential | InvalidCredential | Revoked | Expired => StatusCode::UNAUTHORIZED,
            HostNotAllowed(_) | OriginNotAllowed(_) | MissingPermission | NotProvisioned(_)
            | ServerDisabled(_) => StatusCode::FORBIDDEN,
            UnknownServer(_) | Session(_) | UpstreamSessionGone => StatusCode::NOT_FOUND,
            BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Parse
            | InvalidRequest(_)
            | BatchNotAllowed
            | HeaderMismatch { .. }
            | UnsupportedVersion(_)
            | SessionRequired => StatusCode::BAD_REQUEST,
            UpstreamUnreachable { .. } | UpstreamFailed { .. } | UpstreamAuth { .. } => {
                StatusCode::BAD_GATEWAY
            }
            UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            NotReady => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The machine-readable reason in `data.reason`.
    pub fn reason(&self) -> &'static str {
        use GatewayError::*;
        match self {
            MissingCredential => "missing_credential",
            InvalidCredential => "invalid_credential",
            Revoked => "key_revoked",
            Expired => "key_expired",
            HostNotAllowed(_) => "host_not_allowed",
            OriginNotAllowed(_) => "origin_not_allowed",
            MissingPermission => "missing_permission",
            NotProvisioned(_) => "not_provisioned",
            ServerDisabled(_) => "server_disabled",
            UnknownServer(_) => "unknown_server",
            Session(_) | UpstreamSessionGone => "unknown_session",
            BodyTooLarge(_) => "body_too_large",
            Parse => "parse_error",
            InvalidRequest(_) => "invalid_request",
            BatchNotAllowed => "batch_not_allowed",
            HeaderMismatch { .. } => "header_mismatch",
            UnsupportedVersion(_) => "unsupported_protocol_version",
            SessionRequired => "session_required",
            UpstreamUnreachable { .. } => "upstream_unreachable",
            UpstreamTimeout { .. } => "upstream_timeout",
            UpstreamFailed { .. } => "upstream_failed",
            UpstreamAuth { .. } => "upstream_auth_failed",
            NotReady => "config_not_ready",
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> String {
        use GatewayError::*;
        match self {
            MissingCredential => "send your API key as `Authorization: Bearer mcpgw_<id>_<secret>` (or in `x-mcpgw-api-key`); query strings are not accepted".into(),
            InvalidCredential => "check that the whole key `mcpgw_<id>_<secret>` was copied; ask an admin for a new key if it was lost".into(),
            Revoked => "this key was revoked: ask an admin for a new one".into(),
            Expired => "this key has expired: ask an admin for a new one".into(),
            HostNotAllowed(_) => "connect through the gateway's public URL, or have the operator add this host to MCPGW_ALLOWED_HOSTS".into(),
            OriginNotAllowed(_) => "browser origins must be listed in MCPGW_ALLOWED_ORIGINS by the operator".into(),
            MissingPermission => "ask an admin for a key with the `mcp.invoke` permission".into(),
            NotProvisioned(slug) => format!("ask an admin to provision server `{slug}` to your key's workspace, or use a key of its workspace"),
            ServerDisabled(slug) => format!("server `{slug}` was disabled by an admin; ask them to enable it"),
            UnknownServer(_) => "check the server slug in the URL: `GET /v1/servers` on the admin API lists them".into(),
            Session(_) | UpstreamSessionGone => "start a new session: send `initialize` again without `Mcp-Session-Id`".into(),
            BodyTooLarge(limit) => format!("send a smaller message (at most {limit} bytes), or have the operator raise MCPGW_MAX_BODY_BYTES"),
            Parse => "send one JSON-RPC message as UTF-8 JSON".into(),
            InvalidRequest(_) => "send one JSON-RPC 2.0 request, notification or response per POST".into(),
            BatchNotAllowed => "send one JSON-RPC message per POST".into(),
            HeaderMismatch { header } => format!("make `{header}` match the JSON-RPC body"),
            UnsupportedVersion(_) => "use one of 2025-03-26, 2025-06-18, 2025-11-25 or 2026-07-28 in MCP-Protocol-Version".into(),
            SessionRequired => "initialize a session first and send its `Mcp-Session-Id`".into(),
            UpstreamUnreachable { .. } => "the upstream MCP server is down or unreachable from the gateway; retry later or tell its owner".into(),
            UpstreamTimeout { .. } => "the upstream MCP server is slow or hung; retry later or tell its owner".into(),
            UpstreamFailed { .. } => "the upstream MCP server failed; retry later or tell its owner".into(),
            UpstreamAuth { .. } => "an admin must fix the server's upstream auth configuration".into(),
            NotReady => "the gateway is starting or cut off from its control plane; retry shortly".into(),
        }
    }

    fn code(&self) -> i64 {
        use GatewayError::*;
        match self {
            Parse => PARSE_ERROR,
            InvalidRequest(_) | BatchNotAllowed | SessionRequired => INVALID_REQUEST,
            HeaderMismatch { .. } => HEADER_MISMATCH,
            UnsupportedVersion(_) => UNSUPPORTED_VERSION,
            Session(_) | UpstreamSessionGone => SESSION_NOT_FOUND,
            _ => SERVER_ERROR,
        }
    }

    /// This error as a response to the JSON-RPC message `rpc_id` (or `null`).
    pub fn into_failure(self, request_id: &RequestId, rpc_id: Option<&RawValue>) -> Failure {
        Failure {
            error: self,
            request_id: request_id.clone(),
            rpc_id: rpc_id.map(|id| id.to_owned()),
        }
    }
}

/// A [`GatewayError`] with what its response needs: the request id and the JSON-RPC id.
#[derive(Debug)]
pub struct Failure {
    /// The error.
    pub error: GatewayError,
    /// The gateway's id of the HTTP request.
    pub request_id: RequestId,
    /// The JSON-RPC id of the message, when one was read.
    pub rpc_id: Option<Box<RawValue>>,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = self.error.status();
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": self.rpc_id,
            "error": {
                "code": self.error.code(),
                "message": self.error.to_string(),
                "data": {
                    "request_id": self.request_id.as_str(),
                    "reason": self.error.reason(),
                    "hint": self.error.hint(),
                },
            },
        });
        if status.is_server_error() {
            tracing::warn!(request_id = %self.request_id, reason = self.error.reason(), error = %self.error, "gateway error");
        } else {
            tracing::debug!(request_id = %self.request_id, reason = self.error.reason(), error = %self.error, "request refused");
        }
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            let error = match self.error {
                GatewayError::MissingCredential => "Bearer realm=\"mcpgw\"".to_owned(),
                _ => format!(
                    "Bearer realm=\"mcpgw\", error=\"invalid_token\", error_description=\"{}\"",
                    self.error
                ),
            };
            if let Ok(value) = HeaderValue::from_str(&error) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests;
