//! Every error the gateway answers on `/{slug}/mcp`, and the one place that maps each to an
//! HTTP status and a JSON-RPC error body carrying `request_id`, `reason` and a `hint`. Errors
//! name the server by its slug and never its upstream URL, which may carry a credential.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mcpgw_shared::model::Permission;
use mcpgw_shared::request_id::RequestId;
use serde_json::value::RawValue;

use crate::egress::{EGRESS_ALLOW_VAR, EgressDenied};
use crate::limits::Limited;
use crate::oauth::{SignInLink, TokenError};
use crate::protocol::era::EraError;
use crate::protocol::message::MessageError;
use crate::session::SessionError;
use crate::snapshot::Owner;

/// JSON-RPC code for a header that does not match the body (2026-07-28).
pub const HEADER_MISMATCH: i64 = -32020;
/// JSON-RPC code for an unsupported protocol version (2026-07-28, SEP-2575).
pub const UNSUPPORTED_VERSION: i64 = -32022;
/// JSON-RPC parse error.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC invalid request.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC invalid params.
pub const INVALID_PARAMS: i64 = -32602;
/// Generic server error, used for transport-level refusals.
pub const SERVER_ERROR: i64 = -32000;
/// Session not found (the code the reference SDKs use).
pub const SESSION_NOT_FOUND: i64 = -32001;

/// When a client should retry a request whose bearer token could not be checked.
pub const TOKEN_CHECK_RETRY_AFTER: Duration = Duration::from_secs(5);
/// URL elicitation required (2025-11-25 only): the user must open a URL, then retry.
pub const URL_ELICITATION_REQUIRED: i64 = -32042;

/// Why the gateway refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No API key in `Authorization: Bearer` or `x-mcpgw-api-key`.
    #[error("no credential was presented")]
    MissingCredential,
    /// The key is malformed, unknown or its secret is wrong (not told apart, on purpose).
    #[error("the credential is not valid")]
    InvalidCredential,
    /// A bearer JWT that the workspace's rules refuse (or that no workspace accepts).
    #[error("the bearer token was refused: {0}")]
    InvalidToken(String),
    /// What a bearer token must be checked against (the issuer's keys or introspection
    /// endpoint, or the control plane for the gateway's own tokens) did not answer: the token
    /// was not refused.
    #[error("the gateway could not check the bearer token now: {0}")]
    TokenCheckUnavailable(String),
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
    /// The key lacks a permission.
    #[error("the API key lacks the `{0}` permission")]
    MissingPermission(Permission),
    /// The server is not provisioned to the key's workspace.
    #[error("server `{0}` is not provisioned to this key's workspace")]
    NotProvisioned(String),
    /// The server is disabled.
    #[error("server `{0}` is disabled")]
    ServerDisabled(String),
    /// The server signs each user in to its upstream; a service key cannot use it.
    #[error(
        "server `{0}` signs each user in to its upstream (per-user OAuth): a service key cannot use it"
    )]
    UserRequired(String),
    /// The grants of the key, or of its user, do not list the server.
    #[error("server `{slug}` is not among the servers {} allow", .owner.describe_grants())]
    NotGranted {
        /// The server.
        slug: String,
        /// Whose grants.
        owner: Owner,
    },
    /// The operator turned external identity providers off (`MCPGW_EXTERNAL_AUTH=false`).
    #[error(
        "this gateway's operator turned off external identity providers (MCPGW_EXTERNAL_AUTH=false): tokens of a workspace's identity provider are not accepted here"
    )]
    ExternalAuthDisabled,
    /// The gateway's OAuth access token lacks the scope this request needs.
    #[error("the access token lacks the scope `{0}` this request needs")]
    InsufficientScope(&'static str),
    /// No server has this slug.
    #[error("no MCP server at `/{0}/mcp`")]
    UnknownServer(String),
    /// The path is not an MCP endpoint (nor health or metrics).
    #[error("nothing is served at `{0}`")]
    UnknownPath(String),
    /// The session id does not open, or belongs to someone or something else.
    #[error("unknown or expired session: {0}")]
    Session(#[from] SessionError),
    /// The upstream no longer knows the session.
    #[error("the upstream server ended this session")]
    UpstreamSessionGone,
    /// The body is larger than the limit.
    #[error("the request body exceeds {0} bytes")]
    BodyTooLarge(usize),
    /// The body did not arrive in time.
    #[error("the request body did not arrive within {}s", .0.as_secs())]
    BodyTimeout(Duration),
    /// The body is not JSON.
    #[error("the request body is not valid JSON")]
    Parse,
    /// The body is JSON but not a JSON-RPC message the gateway accepts.
    #[error("invalid JSON-RPC message: {0}")]
    InvalidRequest(&'static str),
    /// The params of a method the gateway routes on are not what the method takes.
    #[error("invalid params of {method}: {problem}")]
    InvalidParams {
        /// The method.
        method: &'static str,
        /// What is wrong.
        problem: String,
    },
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
    /// A routing header appears more than once.
    #[error("header `{header}` appears more than once")]
    DuplicateHeader {
        /// The header at fault.
        header: &'static str,
    },
    /// The `MCP-Protocol-Version` header names a version the gateway does not know.
    #[error("unsupported protocol version `{requested}`")]
    UnsupportedVersion {
        /// The version asked for.
        requested: String,
        /// The versions offered instead (those of the era the request is shaped for).
        supported: &'static [&'static str],
    },
    /// The method needs a session this protocol version has (GET and DELETE).
    #[error("this request needs an `Mcp-Session-Id` header")]
    SessionRequired,
    /// The key holds as many open streams as it may.
    #[error("this key already holds {0} open streams")]
    TooManyStreams(usize),
    /// The egress policy refuses the upstream's address.
    #[error("the upstream of `{slug}` is not an allowed destination: {denied}")]
    EgressDenied {
        /// The server.
        slug: String,
        /// What was refused.
        denied: EgressDenied,
    },
    /// The gateway could not connect to the upstream.
    #[error("could not connect to the upstream of `{slug}`: {detail}")]
    UpstreamUnreachable {
        /// The server.
        slug: String,
        /// What failed.
        detail: String,
    },
    /// The upstream did not answer in time.
    #[error("the upstream of `{slug}` did not answer within {secs}s")]
    UpstreamTimeout {
        /// The server.
        slug: String,
        /// The timeout that elapsed.
        secs: u64,
    },
    /// The upstream answered with a server error, or a broken response.
    #[error("the upstream of `{slug}` failed: {detail}")]
    UpstreamFailed {
        /// The server.
        slug: String,
        /// What went wrong.
        detail: String,
    },
    /// No access token could be had for the upstream (client credentials grant).
    #[error("the gateway could not get an access token for `{slug}`: {error}")]
    UpstreamToken {
        /// The server.
        slug: String,
        /// Why.
        error: TokenError,
    },
    /// The upstream refused the gateway's own credentials.
    #[error("the upstream of `{slug}` refused the gateway's credentials (HTTP {status})")]
    UpstreamAuth {
        /// The server.
        slug: String,
        /// The upstream's status.
        status: u16,
    },
    /// The user has not signed in to the server's upstream (per-user OAuth). Answered as a
    /// JSON-RPC error (HTTP 200), never a 401, which would send the client into OAuth with
    /// the gateway itself.
    #[error("sign in to {server} to use it")]
    SignInRequired {
        /// The server's slug.
        slug: String,
        /// The server's display name.
        server: String,
        /// Where to sign in.
        link: SignInLink,
        /// Whether the client declared URL elicitation (2025-11-25): then the error is
        /// `-32042` carrying the link as an elicitation.
        url_elicitation: bool,
        /// Why an earlier sign-in no longer works, if one did.
        cause: Option<String>,
    },
    /// This data plane cannot hold users' tokens.
    #[error("this gateway cannot sign users in to `{0}`: it has no MCPGW_TOKEN_KEY")]
    NoTokenKey(String),
    /// A user's token could not be refreshed or kept.
    #[error("the gateway could not get your access token for `{slug}`: {detail}")]
    UserToken {
        /// The server.
        slug: String,
        /// Why.
        detail: String,
    },
    /// The server's upstream must be told who calls (identity forwarding), and the gateway
    /// could not say it: the request is not forwarded without it.
    #[error("the gateway could not tell the upstream of `{slug}` who you are: {detail}")]
    IdentityForwarding {
        /// The server.
        slug: String,
        /// Why.
        detail: String,
    },
    /// No configuration yet, or too stale to trust.
    #[error("the gateway has no current configuration")]
    NotReady,
    /// A member of a virtual server failed, and it fails the request (`on_failure: closed`).
    #[error("virtual server `{slug}`: its member `{member}` failed: {error}")]
    MemberFailed {
        /// The virtual server.
        slug: String,
        /// The member's slug.
        member: String,
        /// What the member did.
        error: Box<GatewayError>,
    },
    /// A rate limit or quota of the server refuses the request.
    #[error("server `{slug}`: {limited}")]
    RateLimited {
        /// The server.
        slug: String,
        /// Which limit, and when to try again.
        limited: Limited,
        /// Whether the client takes only `text/event-stream`: the refusal is then an SSE
        /// event carrying the JSON-RPC error.
        as_event: bool,
    },
}

impl GatewayError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        use GatewayError::*;
        match self {
            MissingCredential | InvalidCredential | InvalidToken(_) | Revoked | Expired => {
                StatusCode::UNAUTHORIZED
            }
            HostNotAllowed(_)
            | OriginNotAllowed(_)
            | MissingPermission(_)
            | NotProvisioned(_)
            | ServerDisabled(_)
            | UserRequired(_)
            | InsufficientScope(_)
            | ExternalAuthDisabled
            | NotGranted { .. } => StatusCode::FORBIDDEN,
            UnknownServer(_) | UnknownPath(_) | Session(_) | UpstreamSessionGone => {
                StatusCode::NOT_FOUND
            }
            BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            TooManyStreams(_) | RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Parse
            | InvalidRequest(_)
            | InvalidParams { .. }
            | BatchNotAllowed
            | HeaderMismatch { .. }
            | DuplicateHeader { .. }
            | UnsupportedVersion { .. }
            | SessionRequired => StatusCode::BAD_REQUEST,
            EgressDenied { .. }
            | UpstreamUnreachable { .. }
            | UpstreamFailed { .. }
            | UpstreamToken { .. }
            | UserToken { .. }
            | IdentityForwarding { .. }
            | UpstreamAuth { .. } => StatusCode::BAD_GATEWAY,
            UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            MemberFailed { .. } => StatusCode::BAD_GATEWAY,
            NotReady | NoTokenKey(_) | TokenCheckUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            SignInRequired { .. } => StatusCode::OK,
        }
    }

    /// The machine-readable reason in `data.reason`.
    pub fn reason(&self) -> &'static str {
        use GatewayError::*;
        match self {
            MissingCredential => "missing_credential",
            InvalidCredential => "invalid_credential",
            InvalidToken(_) => "invalid_token",
            TokenCheckUnavailable(_) => "token_check_unavailable",
            Revoked => "key_revoked",
            Expired => "key_expired",
            HostNotAllowed(_) => "host_not_allowed",
            OriginNotAllowed(_) => "origin_not_allowed",
            MissingPermission(_) => "missing_permission",
            NotProvisioned(_) => "not_provisioned",
            ServerDisabled(_) => "server_disabled",
            UserRequired(_) => "user_required",
            NotGranted { .. } => "not_granted",
            InsufficientScope(_) => "insufficient_scope",
            ExternalAuthDisabled => "external_auth_disabled",
            UnknownServer(_) => "unknown_server",
            UnknownPath(_) => "unknown_path",
            Session(_) | UpstreamSessionGone => "unknown_session",
            BodyTooLarge(_) => "body_too_large",
            BodyTimeout(_) => "body_timeout",
            Parse => "parse_error",
            InvalidRequest(_) => "invalid_request",
            InvalidParams { .. } => "invalid_params",
            BatchNotAllowed => "batch_not_allowed",
            HeaderMismatch { .. } => "header_mismatch",
            DuplicateHeader { .. } => "duplicate_header",
            UnsupportedVersion { .. } => "unsupported_protocol_version",
            SessionRequired => "session_required",
            TooManyStreams(_) => "too_many_streams",
            EgressDenied { .. } => "egress_denied",
            UpstreamUnreachable { .. } => "upstream_unreachable",
            UpstreamTimeout { .. } => "upstream_timeout",
            UpstreamFailed { .. } => "upstream_failed",
            UpstreamToken { .. } => "upstream_token_failed",
            UpstreamAuth { .. } => "upstream_auth_failed",
            SignInRequired { .. } => "sign_in_required",
            NoTokenKey(_) => "token_key_missing",
            UserToken { .. } => "user_token_failed",
            IdentityForwarding { .. } => "identity_forwarding_failed",
            NotReady => "config_not_ready",
            RateLimited { .. } => "rate_limited",
            MemberFailed { .. } => "member_failed",
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> String {
        use GatewayError::*;
        match self {
            MissingCredential => "send your API key as `Authorization: Bearer mcpgw_<id>_<secret>` (or in `x-mcpgw-api-key`); query strings are not accepted".into(),
            InvalidCredential => "check that the whole key `mcpgw_<id>_<secret>` was copied; ask an admin for a new key if it was lost".into(),
            InvalidToken(_) => "get a new token from your identity provider for this server's URL (`<gateway>/<slug>/mcp`), or use an API key; an admin sets what tokens a workspace accepts in its `jwt_validation`".into(),
            TokenCheckUnavailable(_) => format!("retry in {}s (Retry-After) with the same token: it was not refused; if this lasts, an admin checks that the data plane reaches what the workspace's `jwt_validation` names, and its control plane", TOKEN_CHECK_RETRY_AFTER.as_secs()),
            Revoked => "this key was revoked: ask an admin for a new one".into(),
            Expired => "this key has expired: ask an admin for a new one".into(),
            HostNotAllowed(_) => "connect through the gateway's public URL, or have the operator add this host to MCPGW_ALLOWED_HOSTS".into(),
            OriginNotAllowed(_) => "browser origins must be listed in MCPGW_ALLOWED_ORIGINS by the operator".into(),
            MissingPermission(permission) => format!("this key is valid but may not call MCP servers: ask an admin for a key with the `{permission}` permission"),
            NotProvisioned(slug) => format!("ask an admin to provision server `{slug}` to your key's workspace, or use a key of its workspace"),
            ServerDisabled(slug) => format!("server `{slug}` was disabled by an admin; ask them to enable it"),
            UserRequired(slug) => format!("use your own user key (an API key of type `user`) for `{slug}`, so the upstream acts as you; service keys are for servers with shared credentials"),
            ExternalAuthDisabled => "use an API key, or sign in through the gateway's own OAuth (your MCP client does it from the server's URL); an operator enables external identity providers with MCPGW_EXTERNAL_AUTH=true".into(),
            InsufficientScope(scope) => format!("sign in again from your MCP client, granting `{scope}` on the consent page"),
            NotGranted { slug, owner } => format!("ask an admin to add `{slug}` to the `servers` of the {} grants (`PATCH /v1/workspaces/{{id}}` with `grants`)", match owner { Owner::Key => "key's", _ => "user's" }),
            UnknownServer(_) => "check the server slug in the URL: `GET /v1/servers` on the admin API lists them".into(),
            UnknownPath(_) => "MCP servers are at `/{slug}/mcp`, one path segment per slug".into(),
            Session(_) | UpstreamSessionGone => "start a new session: send `initialize` again without `Mcp-Session-Id`".into(),
            BodyTooLarge(limit) => format!("send a smaller message (at most {limit} bytes), or have the operator raise MCPGW_MAX_BODY_BYTES"),
            BodyTimeout(_) => "send the whole body without pausing, or have the operator raise MCPGW_BODY_READ_TIMEOUT".into(),
            Parse => "send one JSON-RPC message as UTF-8 JSON".into(),
            InvalidRequest(_) => "send one JSON-RPC 2.0 request, notification or response per POST, with a string or integer id".into(),
            InvalidParams { .. } => "send the method's params as the MCP specification defines them, each field once".into(),
            BatchNotAllowed => "send one JSON-RPC message per POST".into(),
            HeaderMismatch { header } => format!("make `{header}` match the JSON-RPC body"),
            DuplicateHeader { header } => format!("send `{header}` once"),
            UnsupportedVersion { supported, .. } => format!("use one of {} in MCP-Protocol-Version", supported.join(", ")),
            SessionRequired => "initialize a session first and send its `Mcp-Session-Id`".into(),
            TooManyStreams(_) => "close streams this key no longer needs (or use another key), then retry".into(),
            EgressDenied { .. } => format!("the server's URL points at an internal or metadata address: an operator must allow it in {EGRESS_ALLOW_VAR}, or an admin must fix the URL"),
            UpstreamUnreachable { .. } => "the upstream MCP server is down or unreachable from the gateway; retry later or tell its owner".into(),
            UpstreamTimeout { .. } => "the upstream MCP server is slow or hung; retry later or tell its owner".into(),
            UpstreamFailed { .. } => "the upstream MCP server failed; retry later or tell its owner".into(),
            UpstreamToken { slug, error } if error.is_egress() => format!("the token endpoint is an internal address: an operator must allow it in {EGRESS_ALLOW_VAR}, or an admin must fix `{slug}`'s auth"),
            UpstreamToken { slug, .. } => format!("an admin must fix the client credentials of `{slug}` (client_id, client_secret or private_key, client_auth, scope, token_endpoint or issuer); `mcpgw doctor {slug}` shows the authorization server's answer"),
            UpstreamAuth { slug, .. } => format!("an admin must fix the upstream auth of `{slug}` (headers, or the scope and resource of its client credentials); `mcpgw doctor {slug}` shows what the upstream answers"),
            SignInRequired { server, cause, .. } => {
                let open = format!("open the sign-in URL in a browser and sign in to {server}, then retry: the next call works without reconnecting");
                match cause {
                    Some(cause) => format!("{cause}. {open}"),
                    None => open,
                }
            }
            NoTokenKey(_) => "the operator must set MCPGW_TOKEN_KEY (the same keyring on every data plane) to use per-user OAuth servers".into(),
            UserToken { .. } => "the upstream's authorization server or the gateway's control plane is unreachable; retry shortly".into(),
            IdentityForwarding { slug, .. } => format!("the gateway signs the identity `{slug}`'s upstream requires with its control plane, which could not answer; retry shortly, and if it persists an operator checks the data plane's link to the control plane (or an admin sets `identity_forwarding` of `{slug}` to another mode)"),
            NotReady => "the gateway is starting or cut off from its control plane; retry shortly".into(),
            MemberFailed { member, .. } => format!("member `{member}` is down or refused the request: fix it, or mark it `on_failure: open` in the virtual server's `virtual_server.members` to answer without it"),
            RateLimited { limited, .. } => format!("retry in {}s (Retry-After), or ask an admin to raise the {}'s `rate_limits[{}]`", limited.retry_after.as_secs(), match limited.owner { crate::limits::Owner::Workspace => "workspace", crate::limits::Owner::Server => "server" }, limited.index),
        }
    }

    fn code(&self) -> i64 {
        use GatewayError::*;
        match self {
            Parse => PARSE_ERROR,
            InvalidRequest(_) | BatchNotAllowed | SessionRequired => INVALID_REQUEST,
            InvalidParams { .. } => INVALID_PARAMS,
            HeaderMismatch { .. } | DuplicateHeader { .. } => HEADER_MISMATCH,
            UnsupportedVersion { .. } => UNSUPPORTED_VERSION,
            Session(_) | UpstreamSessionGone => SESSION_NOT_FOUND,
            SignInRequired {
                url_elicitation: true,
                ..
            } => URL_ELICITATION_REQUIRED,
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

impl From<EraError> for GatewayError {
    fn from(error: EraError) -> Self {
        match error {
            EraError::UnsupportedVersion {
                requested,
                supported,
            } => Self::UnsupportedVersion {
                requested,
                supported,
            },
            EraError::HeaderMismatch { header } => Self::HeaderMismatch { header },
            EraError::DuplicateHeader { header } => Self::DuplicateHeader { header },
        }
    }
}

impl From<MessageError> for GatewayError {
    fn from(error: MessageError) -> Self {
        match error {
            MessageError::Parse => Self::Parse,
            MessageError::Invalid(what) => Self::InvalidRequest(what),
            MessageError::InvalidParams {
                method, problem, ..
            } => Self::InvalidParams { method, problem },
        }
    }
}

/// The reason of the error a response carries, left in the response's extensions for the
/// metrics and the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureReason(pub &'static str);

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

impl Failure {
    /// The JSON-RPC error message that answers the request: code, message, and `data` with the
    /// request id, the reason and a hint.
    pub fn message(&self) -> serde_json::Value {
        let mut data = serde_json::json!({
            "request_id": self.request_id.as_str(),
            "reason": self.error.reason(),
            "hint": self.error.hint(),
        });
        if let GatewayError::RateLimited { limited, .. } = &self.error {
            data["retry_after"] = serde_json::json!(limited.retry_after.as_secs());
            data["limit"] = serde_json::json!(format!("rate_limits[{}]", limited.index));
        }
        if let GatewayError::UnsupportedVersion {
            requested,
            supported,
        } = &self.error
        {
            data["supported"] = serde_json::json!(supported);
            data["requested"] = serde_json::json!(requested);
        }
        let mut message = self.error.to_string();
        if let GatewayError::SignInRequired {
            server,
            link,
            url_elicitation,
            ..
        } = &self.error
        {
            // The link is in the answer only, never in logs (it signs this user in).
            message = format!("{message}: open {}", link.url);
            data["sign_in_url"] = serde_json::json!(link.url);
            if *url_elicitation {
                data["elicitations"] = serde_json::json!([{
                    "mode": "url",
                    "elicitationId": link.id,
                    "url": link.url,
                    "message": format!("Sign in to {server} to let the gateway use it for you."),
                }]);
            }
        }
        serde_json::json!({
            "jsonrpc": "2.0",
            "id": self.rpc_id,
            "error": {
                "code": self.error.code(),
                "message": message,
                "data": data,
            },
        })
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = self.error.status();
        let body = self.message();
        if status.is_server_error() {
            tracing::warn!(request_id = %self.request_id, reason = self.error.reason(), error = %self.error, "gateway error");
        } else {
            tracing::debug!(request_id = %self.request_id, reason = self.error.reason(), error = %self.error, "request refused");
        }
        let mut response = match &self.error {
            GatewayError::RateLimited {
                limited, as_event, ..
            } => {
                let mut response = if *as_event {
                    let event = format!("event: message\ndata: {body}\n\n");
                    (status, [(header::CONTENT_TYPE, "text/event-stream")], event).into_response()
                } else {
                    (status, axum::Json(body)).into_response()
                };
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(limited.retry_after.as_secs()),
                );
                response
            }
            GatewayError::TokenCheckUnavailable(_) => (
                status,
                [(header::RETRY_AFTER, TOKEN_CHECK_RETRY_AFTER.as_secs())],
                axum::Json(body),
            )
                .into_response(),
            _ => (status, axum::Json(body)).into_response(),
        };
        response
            .extensions_mut()
            .insert(FailureReason(self.error.reason()));
        let challenge = match &self.error {
            GatewayError::InsufficientScope(scope) => Some(format!(
                "Bearer realm=\"mcpgw\", error=\"insufficient_scope\", scope=\"{scope}\", error_description=\"{}\"",
                self.error
            )),
            _ => None,
        };
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
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

/// The first cause of type `T` in `error`'s chain.
pub(crate) fn find_cause<'e, T: std::error::Error + 'static>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The error and its causes on one line (reqwest's own message names only the outer layer).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
