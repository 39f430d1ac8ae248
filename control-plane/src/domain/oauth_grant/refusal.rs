//! A token request refused, as RFC 6749 §5.2 answers it: an error code and what to do.

use std::fmt;

/// The RFC 6749 (and RFC 8707) error codes of the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// The code, refresh token or grant is not (or no longer) valid.
    InvalidGrant,
    /// The client is unknown, revoked, or failed to authenticate.
    InvalidClient,
    /// The request lacks something or is malformed.
    InvalidRequest,
    /// Neither `authorization_code` nor `refresh_token`.
    UnsupportedGrantType,
    /// More scope than was granted.
    InvalidScope,
    /// Another resource than was granted.
    InvalidTarget,
}

impl TokenError {
    /// The error code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidClient => "invalid_client",
            Self::InvalidRequest => "invalid_request",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
        }
    }
}

/// A refused token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRefusal {
    /// The error code.
    pub error: TokenError,
    /// What is wrong, for the client's developer.
    pub description: String,
}

impl TokenRefusal {
    /// A refusal with `error`.
    pub fn new(error: TokenError, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }

    /// An `invalid_grant` refusal.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(TokenError::InvalidGrant, description)
    }
}

impl fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error.as_str(), self.description)
    }
}

impl std::error::Error for TokenRefusal {}
