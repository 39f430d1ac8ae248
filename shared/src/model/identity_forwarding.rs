//! Whether, and how, the gateway tells a server's upstream who the caller is. The client's own
//! credential never crosses: the upstream gets a header the gateway writes itself.

use serde::{Deserialize, Serialize};

/// A server's identity forwarding: `{"mode": "none"}` (the default), `{"mode":
/// "claims_header", "header"?}` or `{"mode": "jwt", "header"?, "ttl_seconds"?}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum IdentityForwarding {
    /// The upstream is not told who calls.
    #[default]
    None,
    /// A JSON header the upstream trusts because only the gateway reaches it: `{"sub",
    /// "workspace", "client_id"?, "scope"?}` (and `"kind": "service"` for a service key).
    ClaimsHeader {
        /// The header's name.
        #[serde(default = "default_claims_header")]
        header: String,
    },
    /// A short-lived JWT the gateway signs, verifiable against its public JWKS.
    Jwt {
        /// The header's name.
        #[serde(default = "default_jwt_header")]
        header: String,
        /// The token's lifetime, 30 to 3600 seconds.
        #[serde(default = "default_ttl")]
        ttl_seconds: u32,
    },
}

impl IdentityForwarding {
    /// The default header of `claims_header` mode.
    pub const CLAIMS_HEADER: &str = "X-MCPGW-User";
    /// The default header of `jwt` mode.
    pub const JWT_HEADER: &str = "X-User-JWT";
    /// The default lifetime of a forwarded JWT.
    pub const DEFAULT_TTL_SECONDS: u32 = 300;
    /// The shortest lifetime.
    pub const MIN_TTL_SECONDS: u32 = 30;
    /// The longest lifetime.
    pub const MAX_TTL_SECONDS: u32 = 3600;

    /// Whether nothing is forwarded.
    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }

    /// The mode's name.
    pub fn mode(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClaimsHeader { .. } => "claims_header",
            Self::Jwt { .. } => "jwt",
        }
    }

    /// The header the upstream gets, if any.
    pub fn header(&self) -> Option<&str> {
        match self {
            Self::None => None,
            Self::ClaimsHeader { header } | Self::Jwt { header, .. } => Some(header),
        }
    }
}

fn default_claims_header() -> String {
    IdentityForwarding::CLAIMS_HEADER.to_owned()
}

fn default_jwt_header() -> String {
    IdentityForwarding::JWT_HEADER.to_owned()
}

fn default_ttl() -> u32 {
    IdentityForwarding::DEFAULT_TTL_SECONDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_fields_take_their_defaults_and_unknown_ones_are_refused() {
        let parse = |json: &str| serde_json::from_str::<IdentityForwarding>(json);
        assert_eq!(
            parse(r#"{"mode":"none"}"#).unwrap(),
            IdentityForwarding::None
        );
        assert_eq!(
            parse(r#"{"mode":"claims_header"}"#).unwrap(),
            IdentityForwarding::ClaimsHeader {
                header: "X-MCPGW-User".into()
            }
        );
        assert_eq!(
            parse(r#"{"mode":"jwt","ttl_seconds":60}"#).unwrap(),
            IdentityForwarding::Jwt {
                header: "X-User-JWT".into(),
                ttl_seconds: 60
            }
        );
        assert!(parse(r#"{"mode":"jwt","audience":"x"}"#).is_err());
        assert!(parse(r#"{"mode":"bearer"}"#).is_err());
    }
}
