//! `doctor`: the triage a support engineer runs on a server that does not work, step by step,
//! each step with its outcome, what it saw and how to fix a failure. The control plane makes
//! the upstream calls itself, through the same egress policy and the same upstream client as a
//! data plane (`MCPGW_EGRESS_ALLOW` of the control plane; data planes apply their own).

mod oauth;
mod steps;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method};
use mcpgw_data_plane::egress::{self, EgressPolicy};
use mcpgw_data_plane::observe::Observation;
use mcpgw_data_plane::relay::ask::read_answer;
use mcpgw_data_plane::relay::upstream::{Upstream, own_post_headers};
use mcpgw_data_plane::snapshot::Route;
use mcpgw_shared::model::{KeyState, KeyType, Permission, UpstreamAuth};
use mcpgw_shared::request_id::RequestId;
use mcpgw_shared::{ApiKeyId, ServerId};
use serde::Serialize;
use serde_json::{Value, json};

use crate::application::{Caller, Service, ServiceError};
use steps::{Outcome, Step};

/// Time allowed for each network step.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// The protocol version the doctor speaks to upstreams.
const PROTOCOL_VERSION: &str = "2025-11-25";

/// Whose access to check besides the server's own health.
#[derive(Debug, Clone, Default)]
pub struct DiagnoseInput {
    /// An API key that should be able to use the server.
    pub key_id: Option<ApiKeyId>,
    /// A user whose keys should be able to use the server.
    pub user: Option<String>,
}

/// What the doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The server.
    pub server_id: ServerId,
    /// Its slug.
    pub slug: String,
    /// Whether no step failed.
    pub ok: bool,
    /// One line: what failed, or that all passed.
    pub summary: String,
    /// Every step, in order.
    pub steps: Vec<Step>,
}

/// Runs the checks; holds the upstream client.
#[derive(Clone, Debug)]
pub struct Doctor {
    egress: Arc<EgressPolicy>,
    upstream: Upstream,
    http: reqwest::Client,
}

impl Doctor {
    /// A doctor connecting where `egress` allows.
    pub fn new(egress: Arc<EgressPolicy>) -> Self {
        Self {
            upstream: Upstream::new(STEP_TIMEOUT, STEP_TIMEOUT, egress.clone(), Vec::new()),
            http: egress::http_client(egress.clone(), STEP_TIMEOUT),
            egress,
        }
    }

    /// Diagnoses server `id` as `caller` sees it.
    pub async fn diagnose(
        &self,
        service: &Service,
        caller: &Caller,
        id: &ServerId,
        input: &DiagnoseInput,
    ) -> Result<Report, ServiceError> {
        let server = service.server_with_secrets(caller, id).await?;
        let slug = server.slug.to_string();
        let mut steps = Vec::new();
        steps.extend(self.access(service, caller, &server, input).await?);
        if let Some(members) = &server.virtual_server {
            let slugs: Vec<&str> = members.members.iter().map(|m| m.server.as_str()).collect();
            steps.push(Step::skip(
                "upstream url",
                format!(
                    "a virtual server has no upstream of its own; diagnose its members: {}",
                    slugs.join(", ")
                ),
            ));
            return Ok(report(id, slug, steps));
        }
        let route = match Route::build(server.clone()) {
            Ok(route) => route,
            Err(error) => {
                steps.push(Step::fail(
                    "upstream url",
                    format!("the server's configuration cannot be used: {error}"),
                    format!("fix it with `PATCH /v1/servers/{id}`"),
                ));
                return Ok(report(id, slug, steps));
            }
        };
        let addresses = self.dns(&route, &mut steps).await;
        if !addresses.is_empty() && self.egress_step(&route, &addresses, &mut steps) {
            match &server.auth {
                UpstreamAuth::Oauth2 { oauth_metadata } => {
                    steps.extend(
                        oauth::check(
                            &self.http,
                            &self.egress,
                            &route.upstream,
                            oauth_metadata.as_ref(),
                        )
                        .await,
                    );
                    steps.push(Step::skip(
                        "initialize",
                        format!("the upstream is called with each user's own token, which only data planes can open (MCPGW_TOKEN_KEY); `GET /v1/servers/{id}/connections` lists the users signed in"),
                    ));
                    return Ok(report(id, slug, steps));
                }
                UpstreamAuth::ClientCredentials { .. } => {
                    steps.push(self.client_credentials(&route).await);
                }
                UpstreamAuth::None | UpstreamAuth::Headers { .. } => {}
            }
            self.mcp(&route, &mut steps).await;
        }
        Ok(report(id, slug, steps))
    }

    /// Checks how the gateway signs in to server `id`'s upstream, step by step: for per-user
    /// OAuth, discovery and registration as a sign-in meets them; for client credentials, a
    /// token request.
    pub async fn test_auth(
        &self,
        service: &Service,
        caller: &Caller,
        id: &ServerId,
    ) -> Result<Report, ServiceError> {
        let server = service.server_with_secrets(caller, id).await?;
        let slug = server.slug.to_string();
        let route = match Route::build(server.clone()) {
            Ok(route) => route,
            Err(error) => {
                let step = Step::fail(
                    "upstream url",
                    format!("the server's configuration cannot be used: {error}"),
                    format!("fix it with `PATCH /v1/servers/{id}`"),
                );
                return Ok(report(id, slug, vec![step]));
            }
        };
        let steps = match &server.auth {
            UpstreamAuth::Oauth2 { oauth_metadata } => {
                oauth::check(
                    &self.http,
                    &self.egress,
                    &route.upstream,
                    oauth_metadata.as_ref(),
                )
                .await
            }
            UpstreamAuth::ClientCredentials { .. } => vec![self.client_credentials(&route).await],
            other => vec![Step::skip(
                "auth",
                format!(
                    "server `{slug}` authenticates with `{}`: there is no sign-in to test",
                    other.type_name()
                ),
            )],
        };
        Ok(report(id, slug, steps))
    }

    /// Gets the gateway's token from the authorization server, as the relay does.
    async fn client_credentials(&self, route: &Route) -> Step {
        const STEP: &str = "client credentials";
        let started = Instant::now();
        let step = match self.upstream.tokens().authorization(route).await {
            Ok(_) => Step::pass(STEP, "the authorization server issued the gateway a token"),
            Err(error) => Step::fail(
                STEP,
                error.to_string(),
                "check `client_id`, `client_secret` or `private_key` and `key_id`, `client_auth` (client_secret_basic, client_secret_post or private_key_jwt), `scope`, and `token_endpoint` or `issuer`; the error above is the authorization server's own",
            ),
        };
        step.took(started.elapsed())
    }

    /// The key or user, and whether the server is enabled and provisioned to them.
    async fn access(
        &self,
        service: &Service,
        caller: &Caller,
        server: &mcpgw_shared::model::ServerConfig,
        input: &DiagnoseInput,
    ) -> Result<Vec<Step>, ServiceError> {
        let mut steps = Vec::new();
        let now = chrono::Utc::now();
        let mut workspaces = Vec::new();
        if let Some(key_id) = &input.key_id {
            match service.api_key(caller, key_id).await {
                Ok(key) => {
                    steps.push(steps::key(&key, server, now));
                    workspaces.extend(key.workspace_id);
                }
                Err(ServiceError::Domain(_)) => steps.push(Step::fail(
                    "key",
                    format!("no API key {key_id} that this admin can see"),
                    "check the key id (`GET /v1/api-keys`)",
                )),
                Err(other) => return Err(other),
            }
        }
        if let Some(user) = &input.user {
            let keys: Vec<_> = service
                .api_keys(caller)
                .await?
                .into_iter()
                .filter(|k| k.key_type == KeyType::User && k.user_id.as_deref() == Some(user))
                .collect();
            let usable = keys.iter().find(|k| {
                k.state(now) == KeyState::Active && k.permissions.contains(&Permission::McpInvoke)
            });
            steps.push(match usable {
                Some(key) => {
                    workspaces.extend(key.workspace_id);
                    Step::pass(
                        "user",
                        format!("user `{user}` has a usable key with `mcp.invoke` ({})", key.id),
                    )
                }
                None => Step::fail(
                    "user",
                    format!("user `{user}` has {} key(s), none usable with `mcp.invoke`", keys.len()),
                    "issue the user a key with `POST /v1/api-keys` (`\"type\": \"user\"`, `\"permissions\": [\"mcp.invoke\"]`)",
                ),
            });
        }
        steps.push(steps::provisioning(server, &workspaces));
        Ok(steps)
    }

    async fn dns(&self, route: &Route, steps: &mut Vec<Step>) -> Vec<SocketAddr> {
        let url = &route.upstream;
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let started = Instant::now();
        let lookup =
            tokio::time::timeout(STEP_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
                .await;
        let took = started.elapsed();
        match lookup {
            Ok(Ok(addresses)) => {
                let addresses: Vec<SocketAddr> = addresses.collect();
                let shown: Vec<String> = addresses.iter().map(|a| a.ip().to_string()).collect();
                steps.push(
                    Step::pass("dns", format!("{host} resolves to {}", shown.join(", ")))
                        .took(took),
                );
                addresses
            }
            Ok(Err(error)) => {
                steps.push(Step::fail(
                    "dns",
                    format!("{host} does not resolve: {error}"),
                    "check the host name in the server's URL, and the DNS the gateway uses",
                ));
                Vec::new()
            }
            Err(_) => {
                steps.push(Step::fail(
                    "dns",
                    format!(
                        "resolving {host} took longer than {}s",
                        STEP_TIMEOUT.as_secs()
                    ),
                    "check the DNS servers the gateway uses",
                ));
                Vec::new()
            }
        }
    }

    /// Whether the egress policy lets the upstream be reached.
    fn egress_step(&self, route: &Route, addresses: &[SocketAddr], steps: &mut Vec<Step>) -> bool {
        let url = &route.upstream;
        let host = url.host_str().unwrap_or_default();
        let checked = self
            .egress
            .check_url(url)
            .and_then(|()| self.egress.filter(host, addresses.to_vec()));
        match checked {
            Ok(_) => {
                steps.push(Step::pass(
                    "egress",
                    format!("{host} is an allowed destination"),
                ));
                true
            }
            Err(denied) => {
                steps.push(Step::fail(
                    "egress",
                    denied.to_string(),
                    format!("if the upstream is meant to be internal, allow its range in {} (on the data planes and on the control plane); otherwise fix the server's URL", egress::EGRESS_ALLOW_VAR),
                ));
                false
            }
        }
    }

    /// `initialize`, then `tools/list`, with the server's auth; TLS is judged by the first call.
    async fn mcp(&self, route: &Route, steps: &mut Vec<Step>) {
        let https = route.upstream.scheme() == "https";
        let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
            "clientInfo": {"name": "mcpgw-doctor", "version": mcpgw_shared::version::VERSION}}});
        let started = Instant::now();
        let answer = self.call(route, &initialize, None).await;
        let took = started.elapsed();
        let (session, result) = match answer {
            Err(error) => {
                let text = error.to_string();
                let tls_failure = https
                    && ["certificate", "tls", "handshake", "ssl"]
                        .iter()
                        .any(|w| text.to_ascii_lowercase().contains(w));
                if tls_failure {
                    steps.push(Step::fail(
                        "tls",
                        text.clone(),
                        "the upstream's certificate must be valid for its host name and signed by a public CA",
                    ));
                }
                steps.push(Step::fail("initialize", text, error.hint()).took(took));
                steps.push(Step::skip("tools/list", "initialize failed"));
                return;
            }
            Ok(answer) => answer,
        };
        if https {
            steps.push(Step::pass(
                "tls",
                "TLS handshake with a verified certificate",
            ));
        } else if route
            .upstream
            .host_str()
            .is_some_and(|h| h != "localhost" && !h.starts_with("127."))
        {
            steps.push(Step::warn(
                "tls",
                "the upstream is reached over plain http: its credentials and traffic cross the network in clear text",
                "use an https:// URL for the server",
            ));
        }
        if !steps::initialize(result, took, steps) {
            steps.push(Step::skip("tools/list", "initialize failed"));
            return;
        }
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let _ = self.call(route, &initialized, session.as_deref()).await;
        let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
        let started = Instant::now();
        match self.call(route, &list, session.as_deref()).await {
            Ok((_, answer)) => steps.push(steps::tools(answer, &route.tools, started.elapsed())),
            Err(error) => steps.push(Step::fail("tools/list", error.to_string(), error.hint())),
        }
        if let Some(session) = session {
            // Ends the doctor's session upstream; an upstream without DELETE answers 405.
            let mut headers = HeaderMap::new();
            headers.insert(
                "mcp-protocol-version",
                HeaderValue::from_static(PROTOCOL_VERSION),
            );
            let _ = self
                .upstream
                .send(
                    route,
                    None,
                    Method::DELETE,
                    &headers,
                    Some(&session),
                    &RequestId::generate(),
                    None,
                    &Observation::default(),
                )
                .await;
        }
    }

    /// One JSON-RPC message to the upstream: its session id and its answer (the first JSON-RPC
    /// response in a JSON or SSE body), read within the size and time bounds.
    async fn call(
        &self,
        route: &Route,
        message: &Value,
        session: Option<&str>,
    ) -> Result<(Option<String>, Answer), mcpgw_data_plane::errors::GatewayError> {
        let headers = own_post_headers(PROTOCOL_VERSION);
        let response = self
            .upstream
            .send(
                route,
                None,
                Method::POST,
                &headers,
                session,
                &RequestId::generate(),
                Some(message.to_string().into()),
                &Observation::default(),
            )
            .await?;
        let status = response.status();
        let (session, body) = read_answer(response, STEP_TIMEOUT).await;
        Ok((
            session,
            Answer {
                status: status.as_u16(),
                body: body.ok(),
            },
        ))
    }
}

/// An upstream's answer to one message.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON-RPC response, when one was read.
    pub body: Option<Value>,
}

fn report(id: &ServerId, slug: String, steps: Vec<Step>) -> Report {
    let failed: Vec<&str> = steps
        .iter()
        .filter(|s| s.status == Outcome::Fail)
        .map(|s| s.step)
        .collect();
    let summary = if failed.is_empty() {
        format!("all {} checks passed or were skipped", steps.len())
    } else {
        format!(
            "{} of {} checks failed: {}",
            failed.len(),
            steps.len(),
            failed.join(", ")
        )
    };
    Report {
        server_id: *id,
        slug,
        ok: failed.is_empty(),
        summary,
        steps,
    }
}
