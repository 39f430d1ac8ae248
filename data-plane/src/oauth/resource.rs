//! Finding an upstream's authorization server the way the MCP authorization specification
//! orders it: the `resource_metadata` of the upstream's 401 (`WWW-Authenticate`), else its
//! protected resource metadata (RFC 9728) at the path-inserted location, then at the root;
//! the document's `resource` must be the URL the server is registered with.

use serde::Deserialize;
use url::Url;

use super::http::{DocumentError, call, first_document};
use crate::egress::EgressPolicy;

/// What the gateway uses of protected resource metadata.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProtectedResource {
    /// The resource identifier: must be the server's URL.
    pub resource: String,
    /// Its authorization servers' issuers.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Scopes it knows.
    pub scopes_supported: Option<Vec<String>>,
}

/// What the upstream said when asked without a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// `resource_metadata` of its `WWW-Authenticate: Bearer` header.
    pub resource_metadata: Option<String>,
    /// `scope` of that header.
    pub scope: Option<String>,
    /// `error` of that header (`invalid_token`, `insufficient_scope`).
    pub error: Option<String>,
}

/// The upstream's protected resource metadata could not be found or does not fit.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// No location answered with a document.
    #[error("no protected resource metadata (RFC 9728) at {tried}: {last}")]
    NotFound {
        /// The locations tried.
        tried: String,
        /// What the last one answered.
        last: String,
    },
    /// The document is for another resource.
    #[error(
        "Protected resource {got} does not match expected {expected}: register the server with the URL `{got}` instead"
    )]
    Mismatch {
        /// The `resource` of the document.
        got: String,
        /// The server's registered URL.
        expected: String,
    },
    /// The egress policy refused an address.
    #[error("{0}")]
    Egress(String),
}

/// Asks `upstream` without a token (an MCP `ping`, which any MCP server must refuse with 401
/// when it needs a token) and reads its challenge.
pub async fn challenge(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    upstream: &Url,
) -> Challenge {
    let request = http::Request::post(upstream.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .body(br#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#.to_vec())
        .expect("a POST of a parsed URL builds");
    let Ok(response) = call(client, egress, request).await else {
        return Challenge::default();
    };
    if response.status() != http::StatusCode::UNAUTHORIZED {
        return Challenge::default();
    }
    response
        .headers()
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(parse_bearer_challenge)
        .unwrap_or_default()
}

/// The `resource_metadata` and `scope` parameters of a `Bearer` challenge (RFC 6750 section
/// 3); `None` for another scheme.
pub fn parse_bearer_challenge(header: &str) -> Option<Challenge> {
    let rest = header.trim_start();
    let scheme_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if !rest[..scheme_end].eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut challenge = Challenge::default();
    let mut params = &rest[scheme_end..];
    while let Some(eq) = params.find('=') {
        let name = params[..eq].trim_matches(|c: char| c == ',' || c.is_whitespace());
        let after = &params[eq + 1..];
        let (value, remaining) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            },
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim(), &after[end..])
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "resource_metadata" => challenge.resource_metadata = Some(value.to_owned()),
            "scope" => challenge.scope = Some(value.to_owned()),
            "error" => challenge.error = Some(value.to_owned()),
            _ => {}
        }
        params = remaining;
    }
    Some(challenge)
}

/// The protected resource metadata locations of `upstream` when its 401 names none: the
/// path-inserted well-known URL, then the root one.
pub fn locations(upstream: &Url) -> Vec<Url> {
    let path = upstream.path().trim_end_matches('/');
    let at = |well_known: String| {
        let mut url = upstream.clone();
        url.set_path(&well_known);
        url.set_query(None);
        url.set_fragment(None);
        url
    };
    let root = at("/.well-known/oauth-protected-resource".into());
    if path.is_empty() {
        vec![root]
    } else {
        vec![
            at(format!("/.well-known/oauth-protected-resource{path}")),
            root,
        ]
    }
}

/// Fetches the protected resource metadata of `upstream` (at `named`, when its 401 named a
/// location). [`check_resource`] says whether it is for `upstream`.
pub async fn discover(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    upstream: &Url,
    named: Option<&str>,
) -> Result<ProtectedResource, ResourceError> {
    let locations = match named.and_then(|n| Url::parse(n).ok()) {
        Some(url) => vec![url],
        None => locations(upstream),
    };
    first_document(
        client,
        egress,
        &locations,
        "a protected resource metadata document",
    )
    .await
    .map(|(_, document)| document)
    .map_err(|e| match e {
        DocumentError::Egress(denied) => ResourceError::Egress(denied.to_string()),
        DocumentError::NotFound { tried, last } => ResourceError::NotFound { tried, last },
    })
}

/// Whether `document` is the metadata of `upstream`: its `resource` must be the URL the server
/// is registered with.
pub fn check_resource(document: &ProtectedResource, upstream: &Url) -> Result<(), ResourceError> {
    if same_resource(&document.resource, upstream) {
        Ok(())
    } else {
        Err(ResourceError::Mismatch {
            got: document.resource.clone(),
            expected: upstream.to_string(),
        })
    }
}

/// Resource identifiers compare as URLs without query or fragment, forgiving a trailing slash.
fn same_resource(named: &str, upstream: &Url) -> bool {
    let Ok(named) = Url::parse(named) else {
        return false;
    };
    let key = |url: &Url| {
        let mut url = url.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.as_str().trim_end_matches('/').to_owned()
    };
    key(&named) == key(upstream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_give_their_metadata_and_scope() {
        let c = parse_bearer_challenge(
            r#"Bearer error="invalid_token", resource_metadata="https://r.example/.well-known/oauth-protected-resource/mcp", scope="a b""#,
        )
        .unwrap();
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("https://r.example/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c.scope.as_deref(), Some("a b"));
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(parse_bearer_challenge("Basic realm=\"x\""), None);
        assert_eq!(
            parse_bearer_challenge("bearer").unwrap(),
            Challenge::default()
        );
    }

    #[test]
    fn metadata_is_looked_for_at_the_path_then_the_root() {
        let urls: Vec<String> = locations(&Url::parse("https://r.example/tenant/mcp?x=1").unwrap())
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            urls,
            [
                "https://r.example/.well-known/oauth-protected-resource/tenant/mcp",
                "https://r.example/.well-known/oauth-protected-resource",
            ]
        );
    }

    #[test]
    fn resources_match_exactly_but_for_a_trailing_slash() {
        let upstream = Url::parse("https://r.example/mcp").unwrap();
        assert!(same_resource("https://r.example/mcp/", &upstream));
        assert!(!same_resource("https://r.example/", &upstream));
        assert!(!same_resource("https://r.example/mcp/other", &upstream));
    }
}
