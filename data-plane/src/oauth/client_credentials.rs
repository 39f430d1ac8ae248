//! The client credentials grant (RFC 6749 section 4.4) for upstreams configured with it: the
//! gateway's own access token per server, requested with the server's scope and `resource`
//! (RFC 8707), cached until shortly before it expires, one request at a time per server,
//! dropped when the upstream refuses it (the relay then asks once more).

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use mcpgw_shared::ServerId;
use mcpgw_shared::model::{ClientAuthMethod, UpstreamAuth};
use mcpgw_shared::request_log::without_query;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};

use super::assertion::{ASSERTION_TYPE, AssertionKey, InvalidKey};
use super::discovery::{DiscoveryError, discover};
use super::http::{CallError, for_oauth2};
use crate::egress::EgressPolicy;
use crate::snapshot::Route;

/// Lifetime assumed for a token whose answer gives none.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// The most a token is renewed ahead of its expiry (else a tenth of its lifetime).
const MAX_MARGIN: Duration = Duration::from_secs(30);
/// Most tokens held.
const MAX_TOKENS: u64 = 100_000;

/// A token per server and connection version (an auth change bumps the version, so the old
/// token is never used again).
type Key = (ServerId, i64);

/// The gateway's client-credentials tokens, shared by every request of a pod.
#[derive(Clone)]
pub struct ClientCredentialsTokens {
    client: reqwest::Client,
    egress: Arc<EgressPolicy>,
    cache: moka::future::Cache<Key, Arc<Token>>,
}

impl std::fmt::Debug for ClientCredentialsTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentialsTokens")
            .field("held", &self.cache.entry_count())
            .finish()
    }
}

/// A token ready to send.
struct Token {
    authorization: HeaderValue,
    fresh_for: Duration,
}

/// Expires each token when it stops being fresh.
struct FreshFor;

impl moka::Expiry<Key, Arc<Token>> for FreshFor {
    fn expire_after_create(
        &self,
        _: &Key,
        token: &Arc<Token>,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(token.fresh_for)
    }
}

/// No token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint could not be discovered from the issuer.
    #[error("cannot discover its token endpoint: {0}")]
    Discovery(String),
    /// The authorization server refused (its `error` and `error_description`).
    #[error("its authorization server refused the gateway's client credentials: {0}")]
    Refused(String),
    /// The token endpoint could not be reached.
    #[error("its token endpoint could not be reached: {0}")]
    Unreachable(String),
    /// The answer is not a usable token.
    #[error("its token endpoint did not answer with a usable token: {0}")]
    Invalid(String),
    /// The egress policy refused the token endpoint's address.
    #[error("the egress policy refuses its token endpoint: {0}")]
    Egress(String),
}

impl TokenError {
    /// Whether the egress policy refused the address.
    pub fn is_egress(&self) -> bool {
        matches!(self, Self::Egress(_))
    }
}

impl ClientCredentialsTokens {
    /// Tokens fetched with `client` wherever `egress` allows.
    pub fn new(client: reqwest::Client, egress: Arc<EgressPolicy>) -> Self {
        Self {
            client,
            egress,
            cache: moka::future::Cache::builder()
                .max_capacity(MAX_TOKENS)
                .expire_after(FreshFor)
                .build(),
        }
    }

    /// The `Authorization` value for `route`'s upstream: `None` unless its auth is the client
    /// credentials grant. Concurrent callers wait for one token request.
    pub async fn authorization(&self, route: &Route) -> Result<Option<HeaderValue>, TokenError> {
        if !matches!(route.server.auth, UpstreamAuth::ClientCredentials { .. }) {
            return Ok(None);
        }
        let key = (route.id(), route.connection_version());
        let token = self
            .cache
            .try_get_with(key, self.fetch(route))
            .await
            .map_err(|e| TokenError::clone(&e))?;
        Ok(Some(token.authorization.clone()))
    }

    /// Drops `route`'s token (its upstream refused it), so the next call gets a new one.
    pub async fn forget(&self, route: &Route) {
        self.cache
            .invalidate(&(route.id(), route.connection_version()))
            .await;
    }

    async fn fetch(&self, route: &Route) -> Result<Arc<Token>, TokenError> {
        let UpstreamAuth::ClientCredentials {
            token_endpoint,
            issuer,
            client_id,
            client_secret,
            private_key,
            key_id,
            client_auth,
            scope,
            resource,
            omit_resource,
            audience,
        } = &route.server.auth
        else {
            unreachable!("only client-credentials routes are fetched");
        };
        let token_url = match (token_endpoint, issuer) {
            (Some(url), _) => url.clone(),
            (None, Some(issuer)) => discover(&self.client, &self.egress, issuer)
                .await
                .map_err(|e| match e {
                    DiscoveryError::Egress(denied) => TokenError::Egress(denied),
                    e => TokenError::Discovery(e.to_string()),
                })?
                .token_endpoint
                .ok_or_else(|| {
                    TokenError::Discovery(format!(
                        "the metadata of `{issuer}` names no token_endpoint"
                    ))
                })?,
            (None, None) => {
                return Err(TokenError::Discovery(
                    "neither `token_endpoint` nor `issuer` is set".into(),
                ));
            }
        };
        let credential = match (client_auth, client_secret, private_key) {
            (ClientAuthMethod::PrivateKeyJwt, _, Some(pem)) => {
                let invalid =
                    |e: InvalidKey| TokenError::Invalid(format!("its private key is {e}"));
                let key = AssertionKey::parse(pem.expose()).map_err(invalid)?;
                Credential::Assertion(
                    key.sign(client_id, &token_url, key_id.as_deref())
                        .map_err(invalid)?,
                )
            }
            (ClientAuthMethod::ClientSecretBasic, Some(secret), _) => {
                Credential::Basic(secret.expose().clone())
            }
            (ClientAuthMethod::ClientSecretPost, Some(secret), _) => {
                Credential::Post(secret.expose().clone())
            }
            (ClientAuthMethod::PrivateKeyJwt, ..) => {
                return Err(TokenError::Invalid(
                    "`private_key_jwt` needs `private_key`".into(),
                ));
            }
            (method, ..) => {
                return Err(TokenError::Invalid(format!(
                    "`{}` needs `client_secret`",
                    method.as_str()
                )));
            }
        };
        let request = TokenRequest {
            token_url,
            client_id: client_id.clone(),
            credential,
            scopes: scope
                .iter()
                .flat_map(|s| s.split_whitespace())
                .map(str::to_owned)
                .collect(),
            resource: (!omit_resource).then(|| {
                resource
                    .clone()
                    .unwrap_or_else(|| without_query(&route.server.url).to_owned())
            }),
            audience: audience.clone(),
        };
        let answer = request
            .send(self.client.clone(), self.egress.clone())
            .await?;
        let lifetime = answer.expires_in().unwrap_or(DEFAULT_LIFETIME);
        let margin = (lifetime / 10).min(MAX_MARGIN);
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", answer.access_token().secret())).map_err(
                |_| TokenError::Invalid("the access token is not a header value".into()),
            )?;
        authorization.set_sensitive(true);
        tracing::debug!(server = %route.slug(), lifetime_secs = lifetime.as_secs(), "got a client-credentials token");
        Ok(Arc::new(Token {
            authorization,
            fresh_for: lifetime - margin,
        }))
    }
}

/// How the client proves who it is.
enum Credential {
    /// Its secret, in HTTP Basic authentication.
    Basic(String),
    /// Its secret, in the form body.
    Post(String),
    /// A signed client assertion (`private_key_jwt`).
    Assertion(String),
}

/// One token request, owning what it sends.
struct TokenRequest {
    token_url: String,
    client_id: String,
    credential: Credential,
    scopes: Vec<String>,
    resource: Option<String>,
    audience: Option<String>,
}

impl TokenRequest {
    /// Sends it through `oauth2`.
    async fn send(
        self,
        client: reqwest::Client,
        egress: Arc<EgressPolicy>,
    ) -> Result<BasicTokenResponse, TokenError> {
        let token_url = TokenUrl::new(self.token_url)
            .map_err(|e| TokenError::Discovery(format!("the token endpoint is not a URL: {e}")))?;
        let (secret, auth_type, assertion) = match self.credential {
            Credential::Basic(secret) => (Some(secret), AuthType::BasicAuth, None),
            Credential::Post(secret) => (Some(secret), AuthType::RequestBody, None),
            // No secret: `oauth2` then sends the client id in the body, beside the assertion.
            Credential::Assertion(jwt) => (None, AuthType::RequestBody, Some(jwt)),
        };
        let mut oauth = BasicClient::new(ClientId::new(self.client_id))
            .set_auth_type(auth_type)
            .set_token_uri(token_url);
        if let Some(secret) = secret {
            oauth = oauth.set_client_secret(ClientSecret::new(secret));
        }
        let mut request = oauth.exchange_client_credentials();
        if let Some(assertion) = assertion {
            request = request
                .add_extra_param("client_assertion_type", ASSERTION_TYPE)
                .add_extra_param("client_assertion", assertion);
        }
        for scope in self.scopes {
            request = request.add_scope(Scope::new(scope));
        }
        if let Some(resource) = self.resource {
            request = request.add_extra_param("resource", resource);
        }
        if let Some(audience) = self.audience {
            request = request.add_extra_param("audience", audience);
        }
        let http = for_oauth2(client, egress);
        request.request_async(&http).await.map_err(token_error)
    }
}

fn token_error(error: RequestTokenError<CallError, BasicErrorResponse>) -> TokenError {
    match error {
        RequestTokenError::ServerResponse(answer) => {
            let mut text = answer.error().to_string();
            if let Some(description) = answer.error_description() {
                text.push_str(&format!(" ({description})"));
            }
            TokenError::Refused(text)
        }
        RequestTokenError::Request(CallError::Egress(denied)) => {
            TokenError::Egress(denied.to_string())
        }
        RequestTokenError::Request(e) => TokenError::Unreachable(e.to_string()),
        RequestTokenError::Parse(e, _) => TokenError::Invalid(e.to_string()),
        RequestTokenError::Other(text) => TokenError::Invalid(text),
    }
}
