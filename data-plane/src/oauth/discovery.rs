//! Authorization server metadata (RFC 8414, and OpenID Connect discovery), fetched from the
//! locations the MCP authorization specification lists, in its order, and checked: the
//! document must name the issuer that was asked for.

use serde::Deserialize;
use url::Url;

use super::http::{DocumentError, first_document};
use crate::egress::EgressPolicy;

/// What the gateway uses of an authorization server's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthorizationServer {
    /// Its issuer identifier.
    pub issuer: String,
    /// Its token endpoint.
    pub token_endpoint: Option<String>,
    /// Its authorization endpoint.
    pub authorization_endpoint: Option<String>,
    /// Its dynamic registration endpoint (RFC 7591).
    pub registration_endpoint: Option<String>,
    /// PKCE methods it supports.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// Scopes it knows.
    pub scopes_supported: Option<Vec<String>>,
    /// Client authentication methods its token endpoint accepts.
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Whether it sends `iss` in authorization responses (RFC 9207).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// Whether it accepts Client ID Metadata Documents as client ids.
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    /// Where its signing keys are (OpenID Connect: the ID tokens' keys).
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

impl AuthorizationServer {
    /// Whether it supports PKCE with S256 (the MCP specification requires it).
    pub fn supports_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    }
}

/// The metadata could not be found or trusted.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The issuer is not an absolute http(s) URL.
    #[error("the issuer `{0}` is not an absolute http(s) URL without query or fragment")]
    BadIssuer(String),
    /// No location answered with a metadata document.
    #[error("no authorization server metadata at {tried}: {last}")]
    NotFound {
        /// The locations tried.
        tried: String,
        /// What the last one answered.
        last: String,
    },
    /// A document names another issuer (RFC 8414 section 3.3: it must not be used).
    #[error("the metadata at {url} names issuer `{named}`, not `{expected}`")]
    IssuerMismatch {
        /// Where it was found.
        url: String,
        /// The issuer it names.
        named: String,
        /// The issuer asked for.
        expected: String,
    },
    /// The egress policy refused the address.
    #[error("{0}")]
    Egress(String),
}

/// The metadata locations of `issuer`, in the order the MCP specification gives: for an
/// issuer with a path, RFC 8414 with the path inserted, OpenID Connect with the path
/// inserted, then OpenID Connect with the path appended; without a path, RFC 8414 then
/// OpenID Connect.
pub fn locations(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let at = |well_known: String| {
        let mut url = issuer.clone();
        url.set_path(&well_known);
        url
    };
    if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    }
}

/// Fetches and checks the metadata of `issuer`.
pub async fn discover(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    issuer: &str,
) -> Result<AuthorizationServer, DiscoveryError> {
    let bad = || DiscoveryError::BadIssuer(issuer.to_owned());
    let parsed = Url::parse(issuer).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https")
        || !parsed.has_host()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(bad());
    }
    let (url, metadata) = first_document::<AuthorizationServer>(
        client,
        egress,
        &locations(&parsed),
        "a metadata document",
    )
    .await
    .map_err(|e| match e {
        DocumentError::Egress(denied) => DiscoveryError::Egress(denied.to_string()),
        DocumentError::NotFound { tried, last } => DiscoveryError::NotFound { tried, last },
    })?;
    if !same_issuer(&metadata.issuer, issuer) {
        return Err(DiscoveryError::IssuerMismatch {
            url: url.to_string(),
            named: metadata.issuer,
            expected: issuer.to_owned(),
        });
    }
    Ok(metadata)
}

/// Issuers compare as strings (RFC 8414 section 3.3), forgiving only a trailing slash.
pub fn same_issuer(named: &str, expected: &str) -> bool {
    named.trim_end_matches('/') == expected.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(issuer: &str) -> Vec<String> {
        locations(&Url::parse(issuer).unwrap())
            .into_iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn locations_follow_the_specification_order() {
        assert_eq!(
            urls("https://as.example.com"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server",
                "https://as.example.com/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            urls("https://as.example.com/tenant1/"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://as.example.com/.well-known/openid-configuration/tenant1",
                "https://as.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn issuers_are_compared_exactly_but_for_a_trailing_slash() {
        assert!(same_issuer(
            "https://as.example.com/",
            "https://as.example.com"
        ));
        assert!(!same_issuer(
            "https://evil.example.com",
            "https://as.example.com"
        ));
        assert!(!same_issuer(
            "https://as.example.com/other",
            "https://as.example.com"
        ));
    }
}
