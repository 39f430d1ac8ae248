//! Calls to upstream MCP servers: one pooled HTTP client for every upstream, the headers that
//! may cross (an allowlist; never the client's credential), the server's own upstream auth, the
//! caller's identity where the server forwards it ([`super::identity`]), the egress policy on
//! every destination, and the mapping of failures to 502 and 504 naming the server's slug
//! (never its URL).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mcpgw_shared::model::UpstreamAuth;
use mcpgw_shared::request_id::{RequestId, X_REQUEST_ID};
use mcpgw_shared::telemetry;
use tracing::Instrument;

use super::identity::{self, UserAssertions};
use crate::admission::{API_KEY_HEADER, Principal};
use crate::egress::{self, EgressDenied, EgressPolicy};
use crate::errors::{GatewayError, error_chain, find_cause};
use crate::oauth::{ClientCredentialsTokens, SignIn, TokenError, UserTokenError, UserTokens};
use crate::observe::Observation;
use crate::snapshot::Route;

pub use crate::admission::MCP_SESSION_ID;

/// Client headers always forwarded: what MCP's transport defines, plus trace context.
const FORWARDED: [&str; 10] = [
    "accept",
    "content-type",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
    "traceparent",
    "tracestate",
    "baggage",
    "user-agent",
];

/// Headers that carry the client's own credentials: never forwarded, whatever is configured.
const NEVER: [&str; 4] = [
    "authorization",
    API_KEY_HEADER,
    "cookie",
    "proxy-authorization",
];

/// The headers of a JSON-RPC POST the gateway makes on its own (not relayed from a client):
/// JSON in, JSON or SSE accepted, at `protocol_version` (left out when it is not a header value).
pub fn own_post_headers(protocol_version: &str) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    if let Ok(version) = HeaderValue::from_str(protocol_version) {
        headers.insert(crate::protocol::era::PROTOCOL_VERSION, version);
    }
    headers
}

/// The client for every upstream.
#[derive(Clone, Debug)]
pub struct Upstream {
    client: reqwest::Client,
    egress: Arc<EgressPolicy>,
    timeout: Duration,
    extra: Arc<[HeaderName]>,
    tokens: ClientCredentialsTokens,
    /// Users' tokens and sign-in, when this pod holds `MCPGW_TOKEN_KEY`.
    users: Option<(UserTokens, SignIn)>,
    /// User assertions for servers that forward identities as JWTs.
    assertions: Option<UserAssertions>,
}

impl Upstream {
    /// A pooled client with the given connect and response-header timeouts, connecting only
    /// where `egress` allows, forwarding `extra_headers` from clients besides the MCP ones.
    pub fn new(
        connect_timeout: Duration,
        timeout: Duration,
        egress: Arc<EgressPolicy>,
        extra_headers: Vec<HeaderName>,
    ) -> Self {
        let client = egress::http_client(egress.clone(), connect_timeout);
        let extra = extra_headers
            .into_iter()
            .filter(|h| !NEVER.contains(&h.as_str()))
            .collect();
        Self {
            tokens: ClientCredentialsTokens::new(client.clone(), egress.clone()),
            client,
            egress,
            timeout,
            extra,
            users: None,
            assertions: None,
        }
    }

    /// The same client, telling upstreams of servers in `jwt` identity-forwarding mode who
    /// calls with assertions from `assertions`.
    pub fn with_assertions(mut self, assertions: UserAssertions) -> Self {
        self.assertions = Some(assertions);
        self
    }

    /// The same client, sending users' own tokens to per-user OAuth servers and telling users
    /// who have not signed in where to do it.
    pub fn with_users(mut self, tokens: UserTokens, sign_in: SignIn) -> Self {
        self.users = Some((tokens, sign_in));
        self
    }

    /// Users' tokens, when this pod keeps them.
    pub fn user_tokens(&self) -> Option<&UserTokens> {
        self.users.as_ref().map(|(tokens, _)| tokens)
    }

    /// Sign-in, when this pod keeps users' tokens.
    pub fn sign_in(&self) -> Option<&SignIn> {
        self.users.as_ref().map(|(_, sign_in)| sign_in)
    }

    /// The HTTP client (egress-checked), for the calls sign-in makes.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The egress policy.
    pub fn egress(&self) -> &Arc<EgressPolicy> {
        &self.egress
    }

    /// The gateway's client-credentials tokens.
    pub fn tokens(&self) -> &ClientCredentialsTokens {
        &self.tokens
    }

    fn forwards(&self, name: &HeaderName) -> bool {
        let n = name.as_str();
        FORWARDED.contains(&n) || n.starts_with("mcp-param-") || self.extra.contains(name)
    }

    /// Sends one request to `route`'s upstream on behalf of `caller` (`None` when the gateway
    /// asks on its own): a per-user OAuth server gets the own token of the caller's user, and
    /// a server that forwards identities is told who calls. Resolves when its response headers
    /// arrive. The call is a client span of the request's trace (its context goes upstream in
    /// `traceparent`), and its status and latency go into `observation`.
    #[allow(clippy::too_many_arguments)]
    pub async fn send(
        &self,
        route: &Route,
        caller: Option<&Principal>,
        method: Method,
        client_headers: &HeaderMap,
        upstream_session: Option<&str>,
        request_id: &RequestId,
        body: Option<Bytes>,
        observation: &Observation,
    ) -> Result<reqwest::Response, GatewayError> {
        let user = caller.and_then(|c| c.key.user.as_deref());
        let span = tracing::info_span!(
            "upstream",
            otel.name = %format_args!("upstream {method}"),
            otel.kind = "client",
            http.request.method = %method,
            server.address = route.upstream.host_str().unwrap_or_default(),
            mcpgw.server = %route.slug(),
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        let authorization = self.authorization(route, user, None).await?;
        let identity = identity::header(self.assertions.as_ref(), route, caller).await?;
        let mut result = self
            .send_in(
                route,
                method.clone(),
                client_headers,
                upstream_session,
                request_id,
                body.clone(),
                Own {
                    authorization: authorization.clone(),
                    identity: identity.clone(),
                },
                &span,
            )
            .instrument(span.clone())
            .await;
        if let Ok(response) = &result
            && response.status() == http::StatusCode::UNAUTHORIZED
            && authorization.is_some()
        {
            // The upstream refused the token (revoked, expired early, or signed with a retired
            // key): one new token, one retry.
            tracing::debug!(server = %route.slug(), "the upstream refused the token; getting a new one");
            if matches!(route.server.auth, UpstreamAuth::ClientCredentials { .. }) {
                self.tokens.forget(route).await;
            }
            let authorization = self
                .authorization(route, user, authorization.as_ref())
                .await?;
            result = self
                .send_in(
                    route,
                    method,
                    client_headers,
                    upstream_session,
                    request_id,
                    body,
                    Own {
                        authorization,
                        identity,
                    },
                    &span,
                )
                .instrument(span.clone())
                .await;
        }
        if let (Ok(response), Some(user)) = (&result, user)
            && response.status() == http::StatusCode::FORBIDDEN
            && matches!(route.server.auth, UpstreamAuth::Oauth2 { .. })
            && let Some(needed) = insufficient_scope(response.headers())
            && let Some(step_up) = self.step_up(route, user, &needed).await
        {
            observation.upstream(Some(403), started.elapsed());
            return Err(step_up);
        }
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        match (&result, status) {
            (Ok(_), Some(status)) => {
                span.record("http.response.status_code", status);
            }
            (Err(error), _) => {
                span.record("error.type", error.reason());
            }
            _ => {}
        }
        observation.upstream(status, started.elapsed());
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_in(
        &self,
        route: &Route,
        method: Method,
        client_headers: &HeaderMap,
        upstream_session: Option<&str>,
        request_id: &RequestId,
        body: Option<Bytes>,
        own: Own,
        span: &tracing::Span,
    ) -> Result<reqwest::Response, GatewayError> {
        let slug = || route.slug().to_string();
        self.egress
            .check_url(&route.upstream)
            .map_err(|denied| egress_denied(route, denied))?;
        let mut headers = HeaderMap::with_capacity(12 + route.auth_headers.len());
        for (name, value) in client_headers {
            if self.forwards(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        if let Some(session) = upstream_session
            && let Ok(value) = HeaderValue::from_str(session)
        {
            headers.insert(MCP_SESSION_ID, value);
        }
        if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
            headers.insert(X_REQUEST_ID, value);
        }
        for (name, value) in &route.auth_headers {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(token) = own.authorization {
            headers.insert(http::header::AUTHORIZATION, token);
        }
        // Only the gateway says who calls: a client's header of that name never crosses.
        if let Some(identity) = &route.identity {
            headers.remove(identity.name());
        }
        if let Some((name, value)) = own.identity {
            headers.insert(name, value);
        }
        telemetry::inject_into(span, &mut headers);
        let mut request = self
            .client
            .request(method, route.upstream.clone())
            .headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        match tokio::time::timeout(self.timeout, request.send()).await {
            Err(_) => Err(GatewayError::UpstreamTimeout {
                slug: slug(),
                secs: self.timeout.as_secs(),
            }),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(classify(route, e)),
        }
    }

    /// The `Authorization` value the upstream of `route` gets for `user`: the gateway's
    /// client-credentials token, the user's own token, or none. `refused` is the value the
    /// upstream just refused.
    async fn authorization(
        &self,
        route: &Route,
        user: Option<&str>,
        refused: Option<&HeaderValue>,
    ) -> Result<Option<HeaderValue>, GatewayError> {
        let slug = || route.slug().to_string();
        match &route.server.auth {
            UpstreamAuth::ClientCredentials { .. } => self
                .tokens
                .authorization(route)
                .await
                .map_err(|error| token_failed(route, error)),
            UpstreamAuth::Oauth2 { .. } => {
                let user = user.ok_or_else(|| GatewayError::UserRequired(slug()))?;
                let (tokens, sign_in) = self
                    .users
                    .as_ref()
                    .ok_or_else(|| GatewayError::NoTokenKey(slug()))?;
                match tokens.authorization(route, user, refused).await {
                    Ok(value) => Ok(Some(value)),
                    Err(
                        error @ (UserTokenError::SignInRequired | UserTokenError::SignInAgain(_)),
                    ) => Err(GatewayError::SignInRequired {
                        slug: slug(),
                        server: route.server.name.clone(),
                        link: sign_in.link(route, user).await,
                        url_elicitation: false,
                        cause: match error {
                            UserTokenError::SignInAgain(cause) => Some(cause),
                            _ => None,
                        },
                    }),
                    Err(UserTokenError::NoTokenKey) => Err(GatewayError::NoTokenKey(slug())),
                    Err(UserTokenError::Unavailable(detail)) => {
                        tracing::warn!(server = %route.slug(), %detail, "no access token for a user");
                        Err(GatewayError::UserToken {
                            slug: slug(),
                            detail,
                        })
                    }
                }
            }
            UpstreamAuth::None | UpstreamAuth::Headers { .. } => Ok(None),
        }
    }

    /// A step-up after the upstream answered `403 insufficient_scope` asking for `needed`: a
    /// sign-in for the union of what `user` asked for and was granted and what is needed.
    /// `None` when the sign-in asked for all of it already (the authorization server did not
    /// grant it, or the upstream still refuses: one step-up per scope, then its 403 stands).
    async fn step_up(&self, route: &Route, user: &str, needed: &str) -> Option<GatewayError> {
        let (tokens, sign_in) = self.users.as_ref()?;
        let known = tokens.known_scopes(route, user).await;
        let mut union: Vec<&str> = known.iter().map(String::as_str).collect();
        let missing: Vec<&str> = needed
            .split_whitespace()
            .filter(|scope| !union.contains(scope))
            .collect();
        if missing.is_empty() {
            return None;
        }
        union.extend(&missing);
        tracing::info!(server = %route.slug(), missing = %missing.join(" "), "the upstream needs more scope: asking the user to grant it");
        Some(GatewayError::SignInRequired {
            slug: route.slug().to_string(),
            server: route.server.name.clone(),
            link: sign_in
                .link_for_scope(route, user, Some(union.join(" ")))
                .await,
            url_elicitation: false,
            cause: Some(format!(
                "{} needs access you have not granted yet ({})",
                route.server.name,
                missing.join(" ")
            )),
        })
    }

    /// The response-header timeout, also used for the bounded reads of whole bodies.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// The headers the gateway writes itself: its `Authorization` for the upstream, and the
/// caller's identity.
struct Own {
    authorization: Option<HeaderValue>,
    identity: Option<(HeaderName, HeaderValue)>,
}

/// The scope an upstream's `403` asks for, when its challenge is `insufficient_scope`.
fn insufficient_scope(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(crate::oauth::parse_bearer_challenge)
        .find(|c| c.error.as_deref() == Some("insufficient_scope"))?
        .scope
}

fn token_failed(route: &Route, error: TokenError) -> GatewayError {
    tracing::warn!(server = %route.slug(), %error, "no client-credentials token");
    GatewayError::UpstreamToken {
        slug: route.slug().to_string(),
        error,
    }
}

fn egress_denied(route: &Route, denied: EgressDenied) -> GatewayError {
    tracing::warn!(server = %route.slug(), upstream = %egress::redacted(&route.upstream), %denied, "egress refused");
    GatewayError::EgressDenied {
        slug: route.slug().to_string(),
        denied,
    }
}

/// A failed upstream call as the client sees it: which server, and why, without its URL.
fn classify(route: &Route, error: reqwest::Error) -> GatewayError {
    if let Some(denied) = find_cause::<EgressDenied>(&error) {
        return egress_denied(route, denied.clone());
    }
    let unreachable = error.is_connect() || error.is_timeout();
    let detail = error_chain(&error.without_url());
    tracing::debug!(server = %route.slug(), upstream = %egress::redacted(&route.upstream), %detail, "upstream call failed");
    let slug = route.slug().to_string();
    if unreachable {
        GatewayError::UpstreamUnreachable { slug, detail }
    } else {
        GatewayError::UpstreamFailed { slug, detail }
    }
}
