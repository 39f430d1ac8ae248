//! Bearer JWTs of a workspace's own identity provider (`jwt_validation` on the workspace),
//! accepted beside API keys. The token's issuer names the workspace; its signature is checked
//! against the issuer's keys (a JWKS fetched through the egress policy, or given inline), its
//! audience must be the URL of the server called (or one the workspace lists), and its
//! algorithm, expiry, not-before and required claims as the workspace says. The user it names
//! then calls as a user key of that workspace with `mcp.invoke` would, until the token expires.
//! The access tokens of the gateway's own authorization server are told apart by their issuer
//! and verified against its keys; their scopes then limit what the caller may do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, Validation};
use mcpgw_shared::ApiKeyId;
use mcpgw_shared::model::{JwtValidation, KeyType, Permission, claim_matches};
use serde::Deserialize as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use super::credential::Principal;
use crate::authorization::GatewayTokens;
use crate::egress::EgressPolicy;
use crate::errors::GatewayError;
use crate::oauth::http::first_document;
use crate::snapshot::{Config, KeyRecord, Route, Workspace};

mod introspection;

/// How long a fetched JWKS is used.
const JWKS_KEPT_FOR: Duration = Duration::from_secs(300);
/// A key id the JWKS lacks refetches it, at most this often.
const JWKS_REFETCH_AFTER: Duration = Duration::from_secs(30);
/// Most JWKS documents kept.
const MAX_JWKS: u64 = 1_000;

/// Checks external bearer JWTs; cheap to clone.
#[derive(Clone)]
pub struct ExternalTokens {
    client: reqwest::Client,
    egress: Arc<EgressPolicy>,
    /// Fetched key sets, by URI, with when they were fetched.
    jwks: moka::future::Cache<String, (Instant, Arc<JwkSet>)>,
    /// Asks introspection endpoints about tokens, keeping their answers.
    introspector: introspection::Introspector,
    /// `MCPGW_PUBLIC_BASE_URL`, for the audience (the server's URL).
    public_base: Option<Arc<Url>>,
    /// The access tokens of the gateway's own authorization server, when it has one.
    gateway: Option<GatewayTokens>,
    /// Whether workspaces' identity providers are accepted (`MCPGW_EXTERNAL_AUTH`).
    external_auth: bool,
}

impl std::fmt::Debug for ExternalTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalTokens")
            .field("jwks", &self.jwks.entry_count())
            .finish_non_exhaustive()
    }
}

/// Whether `token` is shaped as a JWT rather than an API key.
pub fn looks_like_jwt(token: &str) -> bool {
    !token.starts_with("mcpgw_") && token.split('.').count() == 3
}

impl ExternalTokens {
    /// Fetches key sets with `client`, through `egress`.
    pub fn new(client: reqwest::Client, egress: Arc<EgressPolicy>) -> Self {
        Self {
            client,
            egress,
            jwks: moka::future::Cache::builder()
                .max_capacity(MAX_JWKS)
                .time_to_live(JWKS_KEPT_FOR)
                .build(),
            introspector: introspection::Introspector::default(),
            public_base: None,
            gateway: None,
            external_auth: true,
        }
    }

    /// The same, refusing workspaces' identity providers' tokens with 403 when `enabled` is
    /// false (`MCPGW_EXTERNAL_AUTH`).
    pub fn with_external_auth(mut self, enabled: bool) -> Self {
        self.external_auth = enabled;
        self
    }

    /// The same, also accepting the access tokens of the gateway's own authorization server.
    pub fn with_gateway_tokens(mut self, gateway: GatewayTokens) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// The same, taking audiences under `public_base`.
    pub fn with_public_base(mut self, public_base: Arc<Url>) -> Self {
        self.public_base = Some(public_base);
        self
    }

    /// The caller `token` names, for a call of the server at `slug` (`host` stands in for the
    /// public base URL when none is configured).
    pub async fn authenticate(
        &self,
        config: &Config,
        token: &str,
        slug: &str,
        host: Option<&str>,
    ) -> Result<Principal, GatewayError> {
        let refused = |why: String| GatewayError::InvalidToken(why);
        // A JWT names its issuer; any other bearer is opaque, for introspection.
        let jwt = if looks_like_jwt(token) {
            let header = jsonwebtoken::decode_header(token).map_err(|_| {
                refused(
                    "its header is not a JWT header with an accepted algorithm (never `none`)"
                        .into(),
                )
            })?;
            let issuer = unverified_issuer(token)
                .ok_or_else(|| refused("its payload names no issuer (`iss`)".into()))?;
            Some((header, issuer))
        } else {
            None
        };
        let issuer = jwt.as_ref().map(|(_, issuer)| issuer.as_str());
        if let Some(gateway) = self.gateway.as_ref().filter(|g| issuer == Some(g.issuer())) {
            let claims = gateway.verify(token, &self.server_url(slug, host)).await?;
            let grant = claims
                .mcpgw_grant
                .parse()
                .map_err(|_| refused("its grant (`mcpgw_grant`) is not a grant id".into()))?;
            if config.grant_revoked(&grant, Utc::now()) {
                return Err(refused(
                    "its grant was revoked (signed out, or by an administrator): sign in again"
                        .into(),
                ));
            }
            let workspace = config.workspace(&claims.mcpgw_workspace).ok_or_else(|| {
                refused("its workspace is not one this gateway serves now".into())
            })?;
            let mut principal = principal(workspace, &claims.sub, claims.expires_at());
            principal.scopes = Some(claims.scopes());
            principal.client_id = Some(Arc::from(claims.client_id.as_str()));
            principal.scope = Some(Arc::from(claims.scope.as_str()));
            principal.grant = Some(grant);
            return Ok(principal);
        }
        if !self.external_auth {
            return Err(GatewayError::ExternalAuthDisabled);
        }
        let route = config.route_by_slug(slug).map(|r| &**r);
        let audience = self.server_url(slug, host);
        let candidates = candidates(config, route, issuer);
        if candidates.is_empty() {
            return Err(refused(match issuer {
                Some(issuer) => format!("no workspace accepts tokens of issuer `{issuer}`"),
                None => {
                    "it is neither an API key nor a JWT, and no workspace introspects tokens".into()
                }
            }));
        }
        let mut failure = None;
        for (rules, workspace) in candidates {
            let claims = match &jwt {
                Some((header, _)) if rules.jwks.is_some() || rules.jwks_uri.is_some() => {
                    self.verified(rules, header, token, &audience).await
                }
                _ => {
                    self.introspector
                        .claims(&self.client, &self.egress, rules, token, &audience)
                        .await
                }
            };
            match claims.and_then(|claims| caller(rules, workspace, &claims)) {
                Ok(principal) => return Ok(principal),
                Err(error) => failure = Some(error),
            }
        }
        Err(failure.expect("a candidate was tried"))
    }

    /// The claims of the JWT `token`, its signature, algorithm, issuer, audience (`audience`
    /// or one `rules` lists), expiry and required claims checked.
    async fn verified(
        &self,
        rules: &JwtValidation,
        header: &jsonwebtoken::Header,
        token: &str,
        audience: &str,
    ) -> Result<Value, GatewayError> {
        let refused = |why: String| GatewayError::InvalidToken(why);
        let alg = format!("{:?}", header.alg);
        if !rules.algorithms.iter().any(|a| a == &alg) {
            return Err(refused(format!(
                "its algorithm {alg} is not one the workspace accepts ({})",
                rules.algorithms.join(", ")
            )));
        }
        let key = self.key(rules, header.kid.as_deref()).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&rules.issuer]);
        let mut audiences = vec![audience.to_owned()];
        audiences.extend(rules.audiences.iter().cloned());
        validation.set_audience(&audiences);
        validation.leeway = u64::from(rules.clock_tolerance_seconds);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| refused(describe(&e, audience)))?
            .claims;
        for (claim, wanted) in &rules.required_claims {
            if !claims
                .get(claim)
                .is_some_and(|got| claim_matches(got, wanted))
            {
                return Err(refused(format!(
                    "its `{claim}` claim does not carry what the workspace requires ({wanted})"
                )));
            }
        }
        Ok(claims)
    }

    /// The URL clients call the server at `slug` by: the audience its tokens must name.
    fn server_url(&self, slug: &str, host: Option<&str>) -> String {
        let base = match &self.public_base {
            Some(base) => base.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", host.unwrap_or("localhost")),
        };
        format!("{base}/{slug}/mcp")
    }

    /// The issuer's key with id `kid` (or its only key).
    async fn key(
        &self,
        rules: &JwtValidation,
        kid: Option<&str>,
    ) -> Result<DecodingKey, GatewayError> {
        let refused = |why: String| GatewayError::InvalidToken(why);
        let set = match (&rules.jwks, &rules.jwks_uri) {
            (Some(inline), _) => Arc::new(
                JwkSet::deserialize(inline)
                    .map_err(|e| refused(format!("the workspace's inline JWKS is not one: {e}")))?,
            ),
            (None, Some(uri)) => {
                let set = self.fetched(uri, false).await?;
                if find(&set, kid).is_some() {
                    set
                } else {
                    self.fetched(uri, true).await?
                }
            }
            (None, None) => return Err(refused("the workspace names no keys".into())),
        };
        let jwk = find(&set, kid).ok_or_else(|| {
            refused(format!(
                "its key id `{}` is not among the issuer's keys",
                kid.unwrap_or("(none)")
            ))
        })?;
        DecodingKey::from_jwk(jwk)
            .map_err(|e| refused(format!("the issuer's key is unusable: {e}")))
    }

    /// The JWKS at `uri`: the kept one, or, when `refresh` asks for it and the kept one is older
    /// than [`JWKS_REFETCH_AFTER`] (or none is kept), fetched again.
    async fn fetched(&self, uri: &str, refresh: bool) -> Result<Arc<JwkSet>, GatewayError> {
        if let Some((at, set)) = self.jwks.get(uri).await
            && (!refresh || at.elapsed() < JWKS_REFETCH_AFTER)
        {
            return Ok(set);
        }
        let url = Url::parse(uri).map_err(|e| {
            GatewayError::InvalidToken(format!("the workspace's jwks_uri is not a URL: {e}"))
        })?;
        let (_, set) = first_document::<JwkSet>(&self.client, &self.egress, &[url], "a JWKS")
            .await
            .map_err(|e| {
                tracing::warn!(jwks_uri = %uri, error = ?e, "cannot fetch an issuer's keys");
                GatewayError::TokenCheckUnavailable(format!(
                    "the issuer's keys could not be fetched from {uri}"
                ))
            })?;
        let set = Arc::new(set);
        self.jwks
            .insert(uri.to_owned(), (Instant::now(), set.clone()))
            .await;
        Ok(set)
    }
}

/// Whether `token`, not an API key the configuration holds, may still name a caller of the
/// server at `slug`: a JWT, or any other bearer but an API key when the server or some
/// workspace introspects tokens.
pub fn may_be_external(config: &Config, token: &str, slug: &str) -> bool {
    let introspects =
        |rules: Option<&JwtValidation>| rules.is_some_and(|r| r.introspection.is_some());
    looks_like_jwt(token)
        || (!token.starts_with("mcpgw_")
            && (config
                .route_by_slug(slug)
                .is_some_and(|r| introspects(r.server.jwt_validation.as_ref()))
                || config
                    .workspaces()
                    .any(|w| introspects(w.jwt_validation.as_deref()))))
}

/// The rules a token for the server `route` is checked against, in order, each with the
/// workspace its caller then belongs to: the server's own (its caller a user of the server's
/// home workspace), then, of the workspaces whose rules name the token's `issuer` (for an
/// opaque token, that introspect tokens), one the server serves. Rules apply to a JWT whose
/// issuer they name, and to an opaque token when they introspect.
fn candidates<'a>(
    config: &'a Config,
    route: Option<&'a Route>,
    issuer: Option<&str>,
) -> Vec<(&'a JwtValidation, &'a Workspace)> {
    let applies = |rules: &JwtValidation| match issuer {
        Some(issuer) => rules.issuer == issuer,
        None => rules.introspection.is_some(),
    };
    let server = route.and_then(|r| {
        let rules = r.server.jwt_validation.as_ref().filter(|r| applies(r))?;
        let home = config.workspace(&r.server.workspace_id)?;
        Some((rules, &**home))
    });
    let workspace = config
        .workspaces()
        .filter_map(|w| {
            w.jwt_validation
                .as_deref()
                .filter(|r| applies(r))
                .map(|r| (r, &**w))
        })
        .min_by_key(|(_, w)| !route.is_some_and(|r| r.serves(&w.id)));
    server.into_iter().chain(workspace).collect()
}

/// The caller the checked `claims` name: the user `rules.user_claim` names, of `workspace`,
/// with the permissions `rules` grant for these claims, until the token expires.
fn caller(
    rules: &JwtValidation,
    workspace: &Workspace,
    claims: &Value,
) -> Result<Principal, GatewayError> {
    let user = match claims.get(&rules.user_claim) {
        Some(Value::String(user)) if !user.is_empty() => user.clone(),
        Some(Value::Number(user)) => user.to_string(),
        _ => {
            return Err(GatewayError::InvalidToken(format!(
                "it lacks the `{}` claim that names the user",
                rules.user_claim
            )));
        }
    };
    let expires_at = claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|exp| DateTime::<Utc>::from_timestamp(exp, 0));
    let mut principal = principal(workspace, &user, expires_at);
    principal.key.permissions = rules.permissions_for(claims).into_iter().collect();
    Ok(principal)
}

/// The key with id `kid`, or the only key when the token names none.
fn find<'a>(set: &'a JwkSet, kid: Option<&str>) -> Option<&'a Jwk> {
    match kid {
        Some(kid) => set.find(kid),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
}

/// The `iss` of a token, read before its signature is checked (only to find whose rules apply).
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Why a token was refused, in words a caller can act on.
fn describe(error: &jsonwebtoken::errors::Error, audience: &str) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "it has expired".into(),
        ErrorKind::ImmatureSignature => "it is not valid yet (`nbf`)".into(),
        ErrorKind::InvalidAudience => format!("its audience is not {audience}"),
        ErrorKind::InvalidIssuer => "its issuer is not the workspace's".into(),
        ErrorKind::InvalidSignature => "its signature does not verify".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("it lacks the `{claim}` claim"),
        ErrorKind::InvalidAlgorithm => "its algorithm does not match its key".into(),
        _ => format!("it does not verify ({error})"),
    }
}

/// The caller a verified token (or a sign-in) names: `user` of `workspace`, with `mcp.invoke`, until it
/// expires. Its id is derived from both, the same on every pod.
pub(crate) fn principal(
    workspace: &Workspace,
    user: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Principal {
    let digest = Sha256::digest(format!("{}\n{user}", workspace.id).as_bytes());
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let id: String = digest
        .iter()
        .take(16)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    Principal {
        key_id: id
            .parse::<ApiKeyId>()
            .expect("16 letters and digits are an id"),
        key: KeyRecord {
            secret_hash: [0; 32],
            workspace: Some(workspace.id),
            user: Some(Arc::from(user)),
            expires_at,
            permissions: [Permission::McpInvoke].into_iter().collect(),
            key_type: KeyType::User,
            revoked: false,
        },
        external: true,
        scopes: None,
        client_id: None,
        scope: None,
        grant: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_and_jwts_are_told_apart() {
        assert!(looks_like_jwt("eyJ.eyJ.sig"));
        assert!(!looks_like_jwt("mcpgw_abcdefgh_secret"));
        assert!(!looks_like_jwt("opaque-token"));
    }

    #[test]
    fn the_issuer_is_read_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://idp.example","sub":"a"}"#);
        assert_eq!(
            unverified_issuer(&format!("x.{payload}.y")).as_deref(),
            Some("https://idp.example")
        );
        assert_eq!(unverified_issuer("x.not-base64!.y"), None);
    }
}
