//! The session header: the sealed `Mcp-Session-Id` a client holds in the session era, opened
//! for the server and caller it was sealed for (see [`crate::session`]). The extractor only
//! reads the header; the handler opens it where the protocol needs a session (not for
//! `initialize`, nor in the stateless era).

use axum::extract::FromRequestParts;
use http::HeaderValue;
use http::request::Parts;
use mcpgw_shared::request_id::RequestId;

use super::credential::Principal;
use crate::errors::{Failure, GatewayError};
use crate::session::{MAX_TOKEN_LEN, SessionClaims, SessionError, SessionSealer};
use crate::snapshot::Route;

/// The session header.
pub const MCP_SESSION_ID: &str = "mcp-session-id";

/// The `Mcp-Session-Id` a request carried, if any, not yet opened.
#[derive(Debug, Clone, Default)]
pub struct SessionHeader(Option<HeaderValue>);

impl SessionHeader {
    /// Whether the request carried a session.
    pub fn is_present(&self) -> bool {
        self.0.is_some()
    }

    /// Opens the session for `route` and `principal`; `None` when none was sent.
    pub fn open(
        &self,
        sealer: &SessionSealer,
        route: &Route,
        principal: &Principal,
    ) -> Result<Option<SessionClaims>, SessionError> {
        let Some(value) = &self.0 else {
            return Ok(None);
        };
        let token = value.to_str().map_err(|_| SessionError::Malformed)?;
        sealer
            .open(
                token,
                &route.id(),
                route.connection_version(),
                &principal.session_key(),
            )
            .map(Some)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionHeader {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Failure> {
        let mut values = parts.headers.get_all(MCP_SESSION_ID).iter();
        let first = values.next();
        let malformed = values.next().is_some() || first.is_some_and(|v| v.len() > MAX_TOKEN_LEN);
        if malformed {
            let rid = RequestId::from_extensions(&parts.extensions);
            return Err(GatewayError::Session(SessionError::Malformed).into_failure(&rid, None));
        }
        Ok(Self(first.cloned()))
    }
}
