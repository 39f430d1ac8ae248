//! The doctor's checks of an upstream that signs each user in (per-user OAuth), in the order
//! of the MCP authorization specification and with the data plane's own discovery, so what the
//! doctor reports is what a sign-in will meet: the upstream's 401 challenge, its protected
//! resource metadata (RFC 9728) and `resource`, the authorization server's metadata (RFC 8414
//! / OpenID discovery) with its issuer and S256, how the gateway can be a client there, and
//! the scope. Every fetch is bounded and goes through the egress policy. `POST
//! /v1/servers/{id}/test-auth` runs these steps alone.

use std::time::Instant;

use mcpgw_data_plane::egress::EgressPolicy;
use mcpgw_data_plane::oauth::{
    self, AuthorizationServer, DiscoveryError, ProtectedResource, ResourceError,
};
use mcpgw_shared::Redacted;
use mcpgw_shared::model::OAuthMetadata;
use url::Url;

use super::steps::Step;

/// Runs the OAuth checks against `upstream`.
pub async fn check(
    http: &reqwest::Client,
    egress: &EgressPolicy,
    upstream: &Url,
    configured: Option<&OAuthMetadata<Redacted<String>>>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let started = Instant::now();
    let challenge = oauth::challenge(http, egress, upstream).await;
    steps.push(
        match &challenge.resource_metadata {
            Some(url) => Step::pass(
                "challenge",
                format!(
                    "the upstream's 401 names its metadata at {url}{}",
                    challenge
                        .scope
                        .as_ref()
                        .map(|s| format!(" and the scope `{s}`"))
                        .unwrap_or_default()
                ),
            ),
            None => Step::warn(
                "challenge",
                "the upstream's answer without a token names no resource_metadata (RFC 9728) in WWW-Authenticate; the well-known locations are tried",
                "MCP servers should answer 401 with `WWW-Authenticate: Bearer resource_metadata=\"…\"`",
            ),
        }
        .took(started.elapsed()),
    );
    let started = Instant::now();
    let protected = oauth::discover_resource(
        http,
        egress,
        upstream,
        challenge.resource_metadata.as_deref(),
    )
    .await;
    let issuer_configured = configured.and_then(|m| m.issuer.clone());
    let protected = match protected {
        Ok(document) => {
            let step = match oauth::check_resource(&document, upstream) {
                Ok(()) => resource_step(&document),
                Err(ResourceError::Mismatch { got, expected }) => Step::fail(
                    "protected resource",
                    format!("Protected resource {got} does not match expected {expected}"),
                    format!(
                        "register the server with the URL {got} (`PATCH /v1/servers/{{id}}` with `\"url\"`)"
                    ),
                ),
                Err(error) => Step::fail(
                    "protected resource",
                    error.to_string(),
                    "fix the upstream's metadata",
                ),
            };
            steps.push(step.took(started.elapsed()));
            Some(document)
        }
        Err(ResourceError::NotFound { tried, last }) if issuer_configured.is_some() => {
            steps.push(Step::warn(
                "protected resource",
                format!("no protected resource metadata at {tried} ({last})"),
                "the configured `oauth_metadata.issuer` is used instead",
            ));
            None
        }
        Err(error) => {
            steps.push(Step::fail(
                "protected resource",
                error.to_string(),
                "set `oauth_metadata.issuer` on the server to name its authorization server, or have the upstream publish its metadata",
            ));
            return steps;
        }
    };
    let Some(issuer) = issuer_configured.or_else(|| {
        protected
            .as_ref()
            .and_then(|p| p.authorization_servers.first().cloned())
    }) else {
        steps.push(Step::fail(
            "authorization server",
            "the protected resource metadata names no authorization server",
            "set `oauth_metadata.issuer` on the server",
        ));
        return steps;
    };
    let started = Instant::now();
    let server = match oauth::discover(http, egress, &issuer).await {
        Ok(server) => server,
        Err(error) => {
            steps.push(discovery_failure(&issuer, error).took(started.elapsed()));
            return steps;
        }
    };
    if !server.supports_s256() {
        steps.push(Step::fail(
            "authorization server",
            format!("Incompatible auth server: {issuer} does not list S256 in code_challenge_methods_supported"),
            "the authorization server must support PKCE with S256; the gateway refuses it otherwise",
        ));
        return steps;
    }
    steps.push(authorization_server_step(&server).took(started.elapsed()));
    steps.push(registration(
        configured.and_then(|m| m.client_id.as_deref()),
        &server,
    ));
    steps.push(scope(
        configured.and_then(|m| m.scope.as_deref()),
        server.scopes_supported.as_deref().or(protected
            .as_ref()
            .and_then(|p| p.scopes_supported.as_deref())),
    ));
    steps.push(Step::skip(
        "callback",
        "the callback is `{MCPGW_PUBLIC_BASE_URL}/oauth/upstream-callback` with the data planes' public base URL, which each data plane logs at start: register that URL with the authorization server",
    ));
    steps
}

fn resource_step(document: &ProtectedResource) -> Step {
    Step::pass(
        "protected resource",
        format!(
            "resource {}; authorization servers {}; scopes {}",
            document.resource,
            list(&document.authorization_servers),
            document
                .scopes_supported
                .as_deref()
                .map_or_else(|| "not listed".to_owned(), list),
        ),
    )
}

fn authorization_server_step(server: &AuthorizationServer) -> Step {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
    Step::pass(
        "authorization server",
        format!(
            "{}: authorization endpoint {}, token endpoint {}, registration endpoint {}, PKCE S256, `iss` in answers: {}, Client ID Metadata Documents: {}",
            server.issuer,
            or_none(&server.authorization_endpoint),
            or_none(&server.token_endpoint),
            or_none(&server.registration_endpoint),
            server.authorization_response_iss_parameter_supported,
            server.client_id_metadata_document_supported,
        ),
    )
}

fn discovery_failure(issuer: &str, error: DiscoveryError) -> Step {
    let fix = match &error {
        DiscoveryError::Egress(_) => {
            "the authorization server is at an internal address: an operator must allow it in MCPGW_EGRESS_ALLOW"
        }
        DiscoveryError::IssuerMismatch { .. } => {
            "the issuer must be exactly the one asked for: fix `oauth_metadata.issuer` or the authorization server's configuration"
        }
        _ => {
            "check the issuer; without metadata, set `oauth_metadata.authorization_endpoint` and `token_endpoint`"
        }
    };
    Step::fail("authorization server", format!("{issuer}: {error}"), fix)
}

/// How the gateway can be a client of the authorization server, in the specification's order.
fn registration(client_id: Option<&str>, server: &AuthorizationServer) -> Step {
    if let Some(client_id) = client_id {
        return Step::pass(
            "client registration",
            format!("pre-registered client `{client_id}` (nothing else is tried)"),
        );
    }
    let dynamic = server.registration_endpoint.as_ref().map(|endpoint| {
        format!("dynamic client registration at {endpoint}, once per authorization server")
    });
    if server.client_id_metadata_document_supported {
        return Step::pass(
            "client registration",
            format!(
                "the authorization server accepts Client ID Metadata Documents: data planes whose MCPGW_PUBLIC_BASE_URL is https are the client `{{base}}/oauth/client-metadata.json`; others use {}",
                dynamic
                    .as_deref()
                    .unwrap_or("nothing (set `oauth_metadata.client_id`)")
            ),
        );
    }
    if let Some(dynamic) = dynamic {
        return Step::pass("client registration", dynamic);
    }
    Step::fail(
        "client registration",
        "Incompatible auth server: does not support dynamic client registration",
        "register the gateway as a client with the authorization server (redirect URI: the data planes' `/oauth/upstream-callback`), then set `oauth_metadata.client_id` (and `client_secret`) on the server",
    )
}

/// Whether the configured scopes are ones the authorization server offers.
fn scope(configured: Option<&str>, supported: Option<&[String]>) -> Step {
    let Some(configured) = configured else {
        return Step::pass(
            "scope",
            "no scope configured: the 401's or the metadata's scopes apply",
        );
    };
    let Some(supported) = supported else {
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
        .filter(|s| !supported.iter().any(|v| v == s))
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
                "the authorization server does not offer {} (it offers {})",
                unknown.join(", "),
                list(supported)
            ),
            "fix `oauth_metadata.scope` to scopes in the authorization server's scopes_supported",
        )
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(registration: Option<&str>) -> AuthorizationServer {
        serde_json::from_value(serde_json::json!({
            "issuer": "https://as.example",
            "registration_endpoint": registration,
            "code_challenge_methods_supported": ["S256"],
        }))
        .unwrap()
    }

    #[test]
    fn registration_follows_the_specification_order() {
        assert!(
            registration(None, &server(None))
                .detail
                .contains("Incompatible auth server: does not support dynamic client registration")
        );
        assert!(
            registration(None, &server(Some("https://as.example/register")))
                .detail
                .contains("dynamic client registration")
        );
        assert!(
            registration(Some("gw"), &server(Some("https://as/register")))
                .detail
                .contains("pre-registered client `gw`")
        );
    }

    #[test]
    fn scopes_are_checked_against_what_is_offered() {
        let offered = ["read".to_owned(), "write".to_owned()];
        assert_eq!(
            scope(Some("read"), Some(&offered)).status,
            super::super::steps::Outcome::Pass
        );
        let step = scope(Some("read admin"), Some(&offered));
        assert!(step.detail.contains("admin"), "{}", step.detail);
    }
}
