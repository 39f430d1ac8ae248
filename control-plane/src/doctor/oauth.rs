//! The doctor's checks of an upstream that wants per-user OAuth, in the order of the MCP
//! authorization specification: the protected resource metadata (RFC 9728; from the 401's
//! `WWW-Authenticate`, then the path form, then the root) and its `resource`, the authorization
//! server's metadata (RFC 8414 / OpenID discovery) with its issuer and S256, how the gateway can
//! be a client there, and the scope. Every fetch is bounded and goes through the egress policy.

use std::time::Duration;

use mcpgw_data_plane::oauth::locations;
use mcpgw_shared::Redacted;
use mcpgw_shared::model::OAuthMetadata;
use mcpgw_shared::request_log::without_query;
use serde_json::Value;
use url::Url;

use super::steps::{Step, lists};

/// Largest metadata document read.
const MAX_METADATA_BYTES: usize = 256 * 1024;

/// Time allowed for one metadata fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the OAuth checks against `upstream`.
pub async fn check(
    http: &reqwest::Client,
    upstream: &Url,
    configured: Option<&OAuthMetadata<Redacted<String>>>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let prm = match protected_resource(http, upstream).await {
        Ok((url, document)) => document.map(|d| (url, d)),
        Err(step) => {
            steps.push(step);
            None
        }
    };
    let mut issuer = configured.and_then(|m| m.issuer.clone());
    let mut scopes_offered = None;
    match &prm {
        Some((url, document)) => {
            let resource = document["resource"].as_str().unwrap_or_default();
            if same_resource(resource, upstream) {
                steps.push(Step::pass(
                    "protected resource",
                    format!("{url} names resource {resource}"),
                ));
            } else {
                steps.push(Step::fail(
                    "protected resource",
                    format!("Protected resource {resource} does not match expected {}", without_query(upstream.as_str())),
                    format!("register the server with the URL {resource} (`PATCH /v1/servers/{{id}}` with `\"url\"`)"),
                ));
            }
            if issuer.is_none() {
                issuer = document["authorization_servers"][0].as_str().map(str::to_owned);
            }
            scopes_offered = document.get("scopes_supported").cloned();
        }
        None if steps.is_empty() => steps.push(Step::fail(
            "protected resource",
            "the upstream publishes no protected resource metadata (RFC 9728), neither in a 401 nor at /.well-known/oauth-protected-resource",
            "set `oauth_metadata.issuer` on the server to name its authorization server",
        )),
        None => {}
    }
    let Some(issuer) = issuer else {
        steps.push(Step::skip(
            "authorization server",
            "no authorization server is known",
        ));
        return steps;
    };
    let metadata = match authorization_server(http, &issuer).await {
        Ok(metadata) => metadata,
        Err(step) => {
            steps.push(step);
            return steps;
        }
    };
    if metadata["issuer"].as_str() != Some(issuer.as_str()) {
        steps.push(Step::fail(
            "authorization server",
            format!("the metadata of {issuer} names the issuer {}", metadata["issuer"]),
            "the issuer must be exactly the one asked for: fix `oauth_metadata.issuer` or the authorization server's configuration",
        ));
        return steps;
    }
    if !lists(&metadata["code_challenge_methods_supported"], "S256") {
        steps.push(Step::fail(
            "authorization server",
            format!("{issuer} does not list S256 in code_challenge_methods_supported: PKCE cannot be used"),
            "the authorization server must support PKCE with S256; the gateway refuses it otherwise",
        ));
        return steps;
    }
    steps.push(Step::pass(
        "authorization server",
        format!("{issuer}: metadata found, PKCE S256 supported"),
    ));
    steps.push(registration(configured, &metadata));
    steps.push(scope(
        configured.and_then(|m| m.scope.as_deref()),
        metadata.get("scopes_supported").or(scopes_offered.as_ref()),
    ));
    steps.push(Step::skip(
        "callback",
        "the callback is `{MCPGW_PUBLIC_BASE_URL}/oauth/upstream-callback` with the data planes' public base URL, which the control plane does not know: register that URL with the authorization server",
    ));
    steps
}

/// The protected resource metadata: where it was found and the document; `Ok(None)` when the
/// upstream publishes none.
async fn protected_resource(
    http: &reqwest::Client,
    upstream: &Url,
) -> Result<(String, Option<Value>), Step> {
    let mut candidates = Vec::new();
    let challenge = http
        .post(upstream.clone())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await;
    if let Ok(answer) = &challenge
        && let Some(url) = answer
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(resource_metadata_param)
    {
        candidates.push(url);
    }
    let origin = upstream.origin().ascii_serialization();
    let path = upstream.path().trim_end_matches('/');
    if !path.is_empty() {
        candidates.push(format!(
            "{origin}/.well-known/oauth-protected-resource{path}"
        ));
    }
    candidates.push(format!("{origin}/.well-known/oauth-protected-resource"));
    for candidate in candidates {
        if let Some(document) = fetch_json(http, &candidate).await? {
            return Ok((candidate, Some(document)));
        }
    }
    Ok((String::new(), None))
}

/// The `resource_metadata` parameter of a `WWW-Authenticate: Bearer …` challenge.
fn resource_metadata_param(challenge: &str) -> Option<String> {
    let start = challenge.find("resource_metadata=")? + "resource_metadata=".len();
    let rest = &challenge[start..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"')?],
        None => rest.split([',', ' ']).next()?,
    };
    Some(value.to_owned())
}

/// The authorization server's metadata, from the RFC 8414 and OpenID locations in the order the
/// MCP specification gives.
async fn authorization_server(http: &reqwest::Client, issuer: &str) -> Result<Value, Step> {
    let url = Url::parse(issuer).map_err(|_| {
        Step::fail(
            "authorization server",
            format!("`{issuer}` is not a URL"),
            "fix `oauth_metadata.issuer`",
        )
    })?;
    // The same locations, in the same order, as the data plane's discovery.
    let candidates: Vec<String> = locations(&url).into_iter().map(String::from).collect();
    for candidate in &candidates {
        if let Some(document) = fetch_json(http, candidate).await? {
            return Ok(document);
        }
    }
    Err(Step::fail(
        "authorization server",
        format!(
            "{issuer} publishes no metadata at {}",
            candidates.join(", ")
        ),
        "check the issuer; without metadata, set `oauth_metadata.authorization_endpoint` and `token_endpoint`",
    ))
}

/// How the gateway can be a client of the authorization server, in the specification's order.
fn registration(configured: Option<&OAuthMetadata<Redacted<String>>>, metadata: &Value) -> Step {
    if let Some(client_id) = configured.and_then(|m| m.client_id.as_deref()) {
        return Step::pass(
            "client registration",
            format!("pre-registered client `{client_id}`"),
        );
    }
    if metadata["client_id_metadata_document_supported"] == Value::Bool(true) {
        return Step::pass(
            "client registration",
            "the authorization server accepts Client ID Metadata Documents",
        );
    }
    if metadata["registration_endpoint"].is_string() {
        return Step::pass(
            "client registration",
            format!(
                "dynamic client registration at {}",
                metadata["registration_endpoint"]
            ),
        );
    }
    Step::fail(
        "client registration",
        "Incompatible auth server: does not support dynamic client registration",
        "register the gateway as a client with the authorization server, then set `oauth_metadata.client_id` (and `client_secret`) on the server",
    )
}

/// Whether the configured scopes are ones the authorization server offers.
fn scope(configured: Option<&str>, supported: Option<&Value>) -> Step {
    let Some(configured) = configured else {
        return Step::pass(
            "scope",
            "no scope configured: the 401's or the metadata's scopes apply",
        );
    };
    let Some(supported) = supported.and_then(Value::as_array) else {
        return Step::warn(
            "scope",
            format!(
                "`{configured}` is configured; the authorization server lists no scopes_supported to check it against"
            ),
            "a wrong scope shows as invalid_scope at a user's first sign-in",
        );
    };
    let unknown: Vec<&str> = configured
        .split_whitespace()
        .filter(|s| !supported.iter().any(|v| v.as_str() == Some(s)))
        .collect();
    if unknown.is_empty() {
        Step::pass(
            "scope",
            format!("`{configured}` is offered by the authorization server"),
        )
    } else {
        Step::fail(
            "scope",
            format!(
                "the authorization server does not offer {}",
                unknown.join(", ")
            ),
            "fix `oauth_metadata.scope` to scopes in the authorization server's scopes_supported",
        )
    }
}

/// A JSON document at `url`: `Ok(None)` on 404 or a non-JSON answer; a failing step when the
/// host cannot be reached.
async fn fetch_json(http: &reqwest::Client, url: &str) -> Result<Option<Value>, Step> {
    let answer = http
        .get(url)
        .header("accept", "application/json")
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            Step::fail(
                "oauth metadata",
                format!("cannot fetch {}: {e}", without_query(url)),
                "check that the host is reachable from the gateway and allowed by the egress policy",
            )
        })?;
    if !answer.status().is_success() {
        return Ok(None);
    }
    let mut body = Vec::new();
    let mut answer = answer;
    while let Ok(Some(chunk)) = answer.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_METADATA_BYTES {
            return Ok(None);
        }
    }
    Ok(serde_json::from_slice::<Value>(&body)
        .ok()
        .filter(Value::is_object))
}

fn same_resource(resource: &str, upstream: &Url) -> bool {
    let expected = without_query(upstream.as_str());
    resource.trim_end_matches('/') == expected.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_metadata_parameter_is_read_quoted_or_not() {
        assert_eq!(
            resource_metadata_param(r#"Bearer error="invalid_token", resource_metadata="https://a.example/.well-known/oauth-protected-resource/mcp""#).as_deref(),
            Some("https://a.example/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            resource_metadata_param("Bearer resource_metadata=https://a.example/prm, scope=x")
                .as_deref(),
            Some("https://a.example/prm")
        );
        assert_eq!(resource_metadata_param("Bearer realm=x"), None);
    }

    #[test]
    fn registration_follows_the_specification_order() {
        let none = serde_json::json!({});
        assert!(
            registration(None, &none)
                .detail
                .contains("Incompatible auth server")
        );
        let dcr = serde_json::json!({"registration_endpoint": "https://as/register"});
        assert!(
            registration(None, &dcr)
                .detail
                .contains("dynamic client registration")
        );
        let cimd = serde_json::json!({"client_id_metadata_document_supported": true, "registration_endpoint": "https://as/register"});
        assert!(
            registration(None, &cimd)
                .detail
                .contains("Client ID Metadata")
        );
    }

    #[test]
    fn scopes_are_checked_against_what_is_offered() {
        let offered = serde_json::json!(["read", "write"]);
        assert_eq!(
            scope(Some("read"), Some(&offered)).status,
            super::super::steps::Outcome::Pass
        );
        let step = scope(Some("read admin"), Some(&offered));
        assert!(step.detail.contains("admin"), "{}", step.detail);
    }

    #[test]
    fn a_resource_matches_with_or_without_a_trailing_slash() {
        let url = Url::parse("https://mcp.example/mcp?x=1").unwrap();
        assert!(same_resource("https://mcp.example/mcp", &url));
        assert!(same_resource("https://mcp.example/mcp/", &url));
        assert!(!same_resource("https://mcp.example/", &url));
    }
}
