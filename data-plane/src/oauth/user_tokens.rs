//! Users' access tokens for per-user OAuth servers: read from the vault, refreshed shortly
//! before they expire and when the upstream refuses them, one refresh at a time per
//! connection inside a pod. Between pods the vault's compare-and-swap decides who refreshes:
//! a pod first claims the refresh (a short lease written with compare-and-swap), and a pod
//! that loses the claim waits for the winner's tokens instead of spending the same refresh
//! token, so the rotated refresh token survives (and an authorization server that detects
//! refresh-token reuse never sees one). A refresh token that is missing or refused ends the
//! connection: that user (and only that user) signs in again.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use http::HeaderValue;
use mcpgw_shared::ConnectionId;
use mcpgw_shared::model::ConnectionRecord;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, RefreshToken, RequestTokenError, TokenResponse, TokenUrl,
};

use super::http::{CallError, for_oauth2};
use super::vault::{UserTokenSet, Vault};
use crate::egress::EgressPolicy;
use crate::snapshot::{ConfigStore, Route};
use crate::sync::SyncError;

/// Lifetime assumed for a token whose answer gives none.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// The most a token is refreshed ahead of its expiry (else a tenth of its lifetime).
const MAX_MARGIN: Duration = Duration::from_secs(30);
/// Connections whose latest tokens this pod keeps until the configuration catches up.
const MAX_RECENT: u64 = 100_000;
/// How long a pod's claim on a refresh lasts (the token call's own limit, and some).
const LEASE: Duration = Duration::from_secs(15);
/// How often a pod waiting for another's refresh looks at the vault.
const LEASE_POLL: Duration = Duration::from_millis(200);

/// Why no access token can be sent for a user.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UserTokenError {
    /// The user has not signed in, or must sign in again.
    #[error("the user has not signed in to this server")]
    SignInRequired,
    /// The user's sign-in ended (the refresh token is missing or was refused): why.
    #[error("the user must sign in again: {0}")]
    SignInAgain(String),
    /// This pod has no `MCPGW_TOKEN_KEY`.
    #[error("this data plane has no MCPGW_TOKEN_KEY, so it cannot hold users' tokens")]
    NoTokenKey,
    /// The token endpoint could not be reached, or the vault could not be written.
    #[error("{0}")]
    Unavailable(String),
}

/// A refresh failed.
#[derive(Debug)]
enum RefreshError {
    /// The authorization server refused the refresh token: sign in again.
    Refused(String),
    /// It could not be asked.
    Unavailable(String),
}

/// A user's tokens as a pod holds them.
enum Held {
    /// Ready to send.
    Usable(HeaderValue),
    /// Expiring, or refused by the upstream: to refresh.
    Stale(Arc<ConnectionRecord>, Box<UserTokenSet>),
}

/// Users' tokens, shared by every request of a pod.
#[derive(Clone)]
pub struct UserTokens {
    vault: Option<Vault>,
    client: reqwest::Client,
    egress: Arc<EgressPolicy>,
    store: ConfigStore,
    /// One refresh at a time per connection.
    flights: moka::future::Cache<ConnectionId, Arc<tokio::sync::Mutex<()>>>,
    /// What this pod wrote last per connection (with its event's sequence), until the
    /// configuration holds it too.
    recent: moka::future::Cache<ConnectionId, (i64, Arc<ConnectionRecord>)>,
}

impl std::fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTokens")
            .field("vault", &self.vault.is_some())
            .finish_non_exhaustive()
    }
}

impl UserTokens {
    /// Tokens kept in `vault` (none: per-user OAuth is off in this pod), refreshed with
    /// `client` where `egress` allows, read from the configuration in `store`.
    pub fn new(
        vault: Option<Vault>,
        client: reqwest::Client,
        egress: Arc<EgressPolicy>,
        store: ConfigStore,
    ) -> Self {
        Self {
            vault,
            client,
            egress,
            store,
            flights: moka::future::Cache::builder()
                .max_capacity(MAX_RECENT)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            recent: moka::future::Cache::builder()
                .max_capacity(MAX_RECENT)
                .time_to_live(Duration::from_secs(600))
                .build(),
        }
    }

    /// The vault, if this pod holds `MCPGW_TOKEN_KEY`.
    pub fn vault(&self) -> Option<&Vault> {
        self.vault.as_ref()
    }

    /// The connection version `user` has with `route` now (0: none), as sign-in tickets pin it.
    pub async fn version(&self, route: &Route, user: &str) -> i64 {
        self.latest(route, user).await.map_or(0, |r| r.version)
    }

    /// The newest record of the connection this pod knows: the configuration's, or what it
    /// wrote itself since.
    async fn latest(&self, route: &Route, user: &str) -> Option<Arc<ConnectionRecord>> {
        let config = self.store.load();
        let held = config.connection(&route.id(), user).cloned();
        let id = ConnectionId::of(&route.id(), user);
        match (held, self.recent.get(&id).await) {
            (Some(held), Some((_, recent))) if recent.version > held.version => Some(recent),
            // Not in the configuration yet, unless it was ended after this pod wrote it.
            (None, Some((seq, recent)))
                if config.connection_removed_at(&id).is_none_or(|at| at < seq) =>
            {
                Some(recent)
            }
            (held, _) => held,
        }
    }

    /// Remembers what this pod wrote (at event `seq`).
    pub(super) async fn wrote(&self, seq: i64, record: Arc<ConnectionRecord>) {
        self.recent.insert(record.id, (seq, record)).await;
    }

    /// The scopes `user`'s sign-in at `route`'s upstream asked for and was granted, as far as
    /// this pod knows.
    pub async fn known_scopes(&self, route: &Route, user: &str) -> Vec<String> {
        let Some(vault) = self.vault.as_ref() else {
            return Vec::new();
        };
        let Some(tokens) = self
            .latest(route, user)
            .await
            .and_then(|record| vault.open(&record).ok())
        else {
            return Vec::new();
        };
        let mut scopes: Vec<String> = Vec::new();
        for scope in [tokens.requested_scope, tokens.scope]
            .iter()
            .flatten()
            .flat_map(|s| s.split_whitespace())
        {
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        scopes
    }

    /// The `Authorization` value for `user` at `route`'s upstream. `refused` is the value the
    /// upstream just refused (401): that token is refreshed even if it looks fresh.
    pub async fn authorization(
        &self,
        route: &Route,
        user: &str,
        refused: Option<&HeaderValue>,
    ) -> Result<HeaderValue, UserTokenError> {
        let vault = self.vault.as_ref().ok_or(UserTokenError::NoTokenKey)?;
        let (record, tokens) = match self.held(vault, route, user, refused).await? {
            Held::Usable(value) => return Ok(value),
            Held::Stale(record, _) => {
                let flight = self
                    .flights
                    .get_with(record.id, async { Arc::new(tokio::sync::Mutex::new(())) })
                    .await;
                let _one_at_a_time = flight.lock().await;
                // Another request of this pod may have refreshed meanwhile.
                match self.held(vault, route, user, refused).await? {
                    Held::Usable(value) => return Ok(value),
                    Held::Stale(record, tokens) => (record, *tokens),
                }
            }
        };
        self.refresh(vault, route, user, &record, tokens).await
    }

    /// The user's tokens as this pod holds them now: ready to send, or due for a refresh.
    async fn held(
        &self,
        vault: &Vault,
        route: &Route,
        user: &str,
        refused: Option<&HeaderValue>,
    ) -> Result<Held, UserTokenError> {
        let record = self
            .latest(route, user)
            .await
            .ok_or(UserTokenError::SignInRequired)?;
        let tokens = open(vault, &record)?;
        if let Some(reason) = tokens.signed_out {
            return Err(UserTokenError::SignInAgain(reason));
        }
        if usable(&tokens, Utc::now().timestamp(), refused) {
            return bearer(&tokens.access_token).map(Held::Usable);
        }
        Ok(Held::Stale(record, Box::new(tokens)))
    }

    async fn refresh(
        &self,
        vault: &Vault,
        route: &Route,
        user: &str,
        record: &ConnectionRecord,
        tokens: UserTokenSet,
    ) -> Result<HeaderValue, UserTokenError> {
        let now = Utc::now().timestamp();
        if tokens.leased_at(now) {
            return self.await_refresh(vault, route, record).await;
        }
        // Claim the refresh for this pod.
        let claim = UserTokenSet {
            refresh_lease_until: Some(now + LEASE.as_secs() as i64),
            elicitation_id: None,
            ..tokens.clone()
        };
        let claimed = match vault
            .write(&route.id(), user, record.version, Some(&claim))
            .await
        {
            Ok(written) => written,
            Err(SyncError::Conflict(_)) => return self.await_refresh(vault, route, record).await,
            Err(e) => return Err(UserTokenError::Unavailable(e.to_string())),
        };
        let claimed_version = claimed
            .record
            .as_ref()
            .map_or(record.version, |r| r.version);
        let refreshed = match refresh(&self.client, &self.egress, &tokens).await {
            Ok(refreshed) => refreshed,
            Err(RefreshError::Refused(reason)) => {
                tracing::info!(server = %route.slug(), %reason, "a user's refresh failed; they must sign in again");
                self.sign_out(vault, route, user, claimed_version, &tokens, &reason)
                    .await;
                return Err(UserTokenError::SignInAgain(reason));
            }
            Err(RefreshError::Unavailable(reason)) => {
                // Give the claim back, so the next call (here or on another pod) tries again.
                let _ = vault
                    .write(&route.id(), user, claimed_version, Some(&tokens))
                    .await;
                return Err(UserTokenError::Unavailable(reason));
            }
        };
        match vault
            .write(&route.id(), user, claimed_version, Some(&refreshed))
            .await
        {
            Ok(written) => {
                if let Some(stored) = written.record {
                    tracing::debug!(server = %route.slug(), version = stored.version, "refreshed a user's upstream token");
                    self.wrote(written.seq, stored).await;
                }
                bearer(&refreshed.access_token)
            }
            // Ended meanwhile (an administrator revoked it): the user signs in again.
            Err(SyncError::Conflict(_)) => Err(UserTokenError::SignInRequired),
            Err(e) => Err(UserTokenError::Unavailable(e.to_string())),
        }
    }

    /// Waits for the pod that claimed the refresh of `record` to store new tokens.
    async fn await_refresh(
        &self,
        vault: &Vault,
        route: &Route,
        record: &ConnectionRecord,
    ) -> Result<HeaderValue, UserTokenError> {
        let deadline = tokio::time::Instant::now() + LEASE;
        loop {
            let current = vault
                .current(&record.id)
                .await
                .map_err(|e| UserTokenError::Unavailable(e.to_string()))?
                .ok_or(UserTokenError::SignInRequired)?;
            let tokens = open(vault, &current)?;
            let now = Utc::now().timestamp();
            let moved_on = current.version > record.version;
            let leased = tokens.leased_at(now);
            if moved_on && !leased && tokens.fresh_at(now) {
                tracing::debug!(server = %route.slug(), version = current.version, "another pod refreshed this user's token; using its tokens");
                self.wrote(0, Arc::new(current)).await;
                return bearer(&tokens.access_token);
            }
            // The claim was given back without new tokens, or is taking too long.
            let given_back = moved_on && !leased;
            if given_back || tokio::time::Instant::now() >= deadline {
                return Err(UserTokenError::Unavailable(
                    "another data plane's refresh of this user's token did not finish; retry"
                        .into(),
                ));
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// Marks a sign-in whose refresh token is void as ended, with why (if no other pod changed
    /// it meanwhile). The connection stays, and with it the user's open streams: their next
    /// sign-in continues them.
    async fn sign_out(
        &self,
        vault: &Vault,
        route: &Route,
        user: &str,
        version: i64,
        tokens: &UserTokenSet,
        reason: &str,
    ) {
        let signed_out = UserTokenSet::signed_out(tokens, reason.to_owned());
        match vault
            .write(&route.id(), user, version, Some(&signed_out))
            .await
        {
            Ok(written) => {
                if let Some(record) = written.record {
                    self.wrote(written.seq, record).await;
                }
            }
            Err(SyncError::Conflict(_)) => {}
            Err(error) => {
                tracing::warn!(server = %route.slug(), %error, "cannot record that a user's sign-in ended");
            }
        }
    }
}

fn open(vault: &Vault, record: &ConnectionRecord) -> Result<UserTokenSet, UserTokenError> {
    vault.open(record).map_err(|error| {
        tracing::warn!(connection = %record.id, %error, "a user must sign in again");
        UserTokenError::SignInRequired
    })
}

fn usable(tokens: &UserTokenSet, now: i64, refused: Option<&HeaderValue>) -> bool {
    let was_refused =
        refused.is_some_and(|r| r.as_bytes().ends_with(tokens.access_token.as_bytes()));
    tokens.fresh_at(now) && !was_refused
}

/// `Bearer <token>`, marked sensitive.
pub(super) fn bearer(token: &str) -> Result<HeaderValue, UserTokenError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        UserTokenError::Unavailable("the access token is not a header value".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// When to refresh a token of `lifetime` issued now: a tenth of its lifetime before it
/// expires, at most 30 s before.
pub(super) fn refresh_at(lifetime: Option<Duration>) -> i64 {
    let lifetime = lifetime.unwrap_or(DEFAULT_LIFETIME);
    let margin = (lifetime / 10).min(MAX_MARGIN);
    Utc::now().timestamp() + (lifetime - margin).as_secs() as i64
}

/// The token set after a token answer: its new tokens, the refresh token kept when the
/// authorization server did not rotate it.
pub(super) fn token_set(answer: &BasicTokenResponse, before: UserTokenSet) -> UserTokenSet {
    UserTokenSet {
        access_token: answer.access_token().secret().clone(),
        refresh_token: answer
            .refresh_token()
            .map(|t| t.secret().clone())
            .or(before.refresh_token),
        refresh_at: Some(refresh_at(answer.expires_in())),
        scope: answer
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
            .or(before.scope),
        refresh_lease_until: None,
        elicitation_id: None,
        signed_out: None,
        ..before
    }
}

/// An `oauth2` client of the token endpoint in `tokens`, authenticating as their client.
pub(super) fn token_client(
    client_id: &str,
    client_secret: Option<&str>,
    token_endpoint: &str,
) -> Result<
    BasicClient<
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
    String,
> {
    let url = TokenUrl::new(token_endpoint.to_owned())
        .map_err(|e| format!("the token endpoint is not a URL: {e}"))?;
    let mut client = BasicClient::new(ClientId::new(client_id.to_owned())).set_token_uri(url);
    client = match client_secret {
        Some(secret) => client
            .set_client_secret(ClientSecret::new(secret.to_owned()))
            .set_auth_type(AuthType::BasicAuth),
        None => client.set_auth_type(AuthType::RequestBody),
    };
    Ok(client)
}

/// The authorization server's refusal as text (`error (description)`).
pub(super) fn refusal(answer: &BasicErrorResponse) -> String {
    let mut text = answer.error().to_string();
    if let Some(description) = answer.error_description() {
        text.push_str(&format!(" ({description})"));
    }
    text
}

async fn refresh(
    client: &reqwest::Client,
    egress: &Arc<EgressPolicy>,
    tokens: &UserTokenSet,
) -> Result<UserTokenSet, RefreshError> {
    let Some(refresh_token) = &tokens.refresh_token else {
        return Err(RefreshError::Refused(
            "your sign-in expired, and the authorization server issued no refresh token to renew it: an administrator can ask for offline access (scope `offline_access`, or `authorization_params` such as `access_type=offline` for Google) so that sign-ins last"
                .into(),
        ));
    };
    let oauth = token_client(
        &tokens.client_id,
        tokens.client_secret.as_deref(),
        &tokens.token_endpoint,
    )
    .map_err(RefreshError::Unavailable)?;
    let refresh_token = RefreshToken::new(refresh_token.clone());
    let mut request = oauth.exchange_refresh_token(&refresh_token);
    if let Some(resource) = &tokens.resource {
        request = request.add_extra_param("resource", resource.clone());
    }
    let http = for_oauth2(client.clone(), egress.clone());
    match request.request_async(&http).await {
        Ok(answer) => Ok(token_set(&answer, tokens.clone())),
        Err(RequestTokenError::ServerResponse(answer)) => Err(RefreshError::Refused(format!(
            "the authorization server refused to renew your sign-in ({})",
            refusal(&answer)
        ))),
        Err(RequestTokenError::Request(CallError::Egress(denied))) => {
            Err(RefreshError::Unavailable(denied.to_string()))
        }
        Err(e) => Err(RefreshError::Unavailable(e.to_string())),
    }
}
