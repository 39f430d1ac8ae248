//! Signing a user in through their workspace's OpenID Connect provider (`identity_provider` on
//! the workspace), instead of the API-key page: the authorization endpoint sends the browser to
//! the provider (authorization code with PKCE S256 and a nonce, the `oauth2` crate), and
//! `/oauth/idp-callback` exchanges the code, verifies the ID token (signature against the
//! provider's keys, issuer, audience, expiry, nonce; never `none` nor a shared-secret
//! algorithm), applies the workspace's rules (email domains, required claims) and shows the
//! consent page for the user the configured claim names. Everything it fetches passes the
//! egress policy, bounded in size and time.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mcpgw_shared::WorkspaceId;
use mcpgw_shared::model::{IdentityProvider, claim_matches};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::authorize::{Pending, SignedIn, consent_page, parameters, remember, shown};
use super::{AuthorizationServer, IDP_CALLBACK_PATH};
use crate::oauth::discover;
use crate::oauth::http::{CallError, first_document, for_oauth2};
use crate::oauth::same_issuer;
use crate::pages::{no_store, page};
use crate::snapshot::Workspace;

/// The sealing context of the state sent through the provider.
const IDP_STATE: &str = "identity provider state";
/// How long a sign-in at the provider may take.
const SIGN_IN_SECS: i64 = 15 * 60;
/// The algorithms an ID token may be signed with (asymmetric only).
const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What comes back through the provider in `state`, sealed.
#[derive(Serialize, Deserialize)]
struct IdpState {
    pending: Pending,
    workspace: WorkspaceId,
    verifier: String,
    nonce: String,
    exp: i64,
}

/// The ID token in a token answer (OpenID Connect Core §3.1.3.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenFields {
    #[serde(default)]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenFields {}

/// An `oauth2` client whose token answers carry an ID token.
type OidcClient<HasAuth, HasToken> = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenFields, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuth,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    HasToken,
>;

/// A client of `provider` with the gateway's callback.
fn client(
    server: &AuthorizationServer,
    provider: &IdentityProvider,
) -> Result<OidcClient<EndpointNotSet, EndpointNotSet>, String> {
    let redirect = RedirectUrl::new(server.at(IDP_CALLBACK_PATH))
        .map_err(|e| format!("the gateway's callback is not a URL: {e}"))?;
    let client =
        OidcClient::new(ClientId::new(provider.client_id.clone())).set_redirect_uri(redirect);
    Ok(match &provider.client_secret {
        Some(secret) => client
            .set_client_secret(ClientSecret::new(secret.expose().clone()))
            .set_auth_type(AuthType::BasicAuth),
        None => client.set_auth_type(AuthType::RequestBody),
    })
}

/// Sends the browser to `workspace`'s provider to sign in for `pending`.
pub async fn begin(
    server: &AuthorizationServer,
    workspace: &Workspace,
    provider: &IdentityProvider,
    pending: Pending,
) -> Response {
    let inner = &server.inner;
    if !inner.external_auth {
        return page(
            StatusCode::FORBIDDEN,
            "Sign-in through identity providers is turned off",
            &format!(
                "This server's workspace signs its users in through {}, but this gateway's operator turned external identity providers off (MCPGW_EXTERNAL_AUTH=false). Ask them to turn it on, or an administrator to remove the workspace's identity_provider so users sign in with their API key.",
                provider.issuer
            ),
        );
    }
    let metadata = match discover(&inner.http, &inner.egress, &provider.issuer).await {
        Ok(metadata) => metadata,
        Err(error) => {
            tracing::warn!(issuer = %provider.issuer, %error, "cannot discover a workspace's identity provider");
            return unavailable(&format!(
                "The workspace's identity provider ({}) cannot be reached or described: {error}. An administrator should check `identity_provider.issuer`.",
                provider.issuer
            ));
        }
    };
    let Some(endpoint) = metadata.authorization_endpoint.clone() else {
        return unavailable("The workspace's identity provider names no authorization endpoint.");
    };
    let auth_url = match AuthUrl::new(endpoint) {
        Ok(url) => url,
        Err(e) => return unavailable(&format!("Its authorization endpoint is not a URL: {e}")),
    };
    let client = match client(server, provider) {
        Ok(client) => client.set_auth_uri(auth_url),
        Err(why) => return unavailable(&why),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let state = IdpState {
        pending,
        workspace: workspace.id,
        verifier: verifier.secret().clone(),
        nonce: nonce.clone(),
        exp: Utc::now().timestamp() + SIGN_IN_SECS,
    };
    let sealed = inner.sealer.seal(&state, IDP_STATE);
    let mut request = client
        .authorize_url(|| CsrfToken::new(sealed))
        .set_pkce_challenge(challenge)
        .add_extra_param("nonce", nonce);
    for scope in provider.scopes.split_ascii_whitespace() {
        request = request.add_scope(Scope::new(scope.to_owned()));
    }
    let (url, _) = request.url();
    let mut response = Redirect::to(url.as_str()).into_response();
    no_store(&mut response);
    response
}

/// `GET /oauth/idp-callback`: back from the provider.
pub async fn callback(
    State(server): State<AuthorizationServer>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match parameters(query.as_deref()) {
        Ok(params) => params,
        Err(why) => return shown(why),
    };
    let Some(state) = params
        .get("state")
        .and_then(|s| server.inner.sealer.open::<IdpState>(s, IDP_STATE))
        .filter(|s| s.exp >= Utc::now().timestamp())
    else {
        return shown(
            "the identity provider's answer carries no valid state, or came too late: start again from your MCP client",
        );
    };
    if let Some(error) = params.get("error") {
        let said = params
            .get("error_description")
            .map_or_else(|| error.clone(), |d| format!("{error} ({d})"));
        return page(
            StatusCode::FORBIDDEN,
            "The identity provider did not sign you in",
            &format!("It said: {said}. Start again from your MCP client."),
        );
    }
    let Some(code) = params.get("code") else {
        return shown("the identity provider's answer carries no code");
    };
    let config = server.inner.store.load();
    let Some(workspace) = config.workspace(&state.workspace) else {
        return shown("the workspace is gone");
    };
    let Some(provider) = workspace.identity_provider.clone() else {
        return shown("the workspace no longer signs users in with an identity provider");
    };
    let answered_by = params.get("iss").map(String::as_str);
    let user = match signed_in_user(&server, &provider, &state, code, answered_by).await {
        Ok(user) => user,
        Err(why) => {
            tracing::info!(workspace = %workspace.id, %why, "a sign-in at the identity provider was refused");
            return page(
                StatusCode::FORBIDDEN,
                "You cannot sign in here",
                &format!("{why}. Ask an administrator if you think you should."),
            );
        }
    };
    let signed_in = SignedIn {
        key: None,
        workspace: workspace.id,
        user,
        exp: Utc::now().timestamp() + super::authorize::SIGNED_IN_FOR_SECS,
    };
    if let Err(why) = super::authorize::may_use(&config, &signed_in, &state.pending.slug) {
        return page(StatusCode::FORBIDDEN, "You cannot use this server", &why);
    }
    let mut response = consent_page(&server, &config, &state.pending, &signed_in);
    remember(&server, &mut response, &signed_in);
    response
}

/// The user the provider signed in, once their ID token verifies and passes the workspace's
/// rules.
async fn signed_in_user(
    server: &AuthorizationServer,
    provider: &IdentityProvider,
    state: &IdpState,
    code: &str,
    answered_by: Option<&str>,
) -> Result<String, String> {
    let inner = &server.inner;
    let metadata = discover(&inner.http, &inner.egress, &provider.issuer)
        .await
        .map_err(|e| format!("the identity provider cannot be described now ({e})"))?;
    // RFC 9207: an answer naming another issuer is refused, and so is one without `iss` from a
    // provider that says it always sends it (a mix-up attack).
    match answered_by {
        Some(iss) if !same_issuer(iss, &metadata.issuer) => {
            return Err(format!(
                "the sign-in answer came from another issuer (`{}`)",
                iss.chars().take(200).collect::<String>()
            ));
        }
        None if metadata.authorization_response_iss_parameter_supported => {
            return Err("the sign-in answer lacks the `iss` its provider promises".into());
        }
        _ => {}
    }
    let token_url = metadata
        .token_endpoint
        .clone()
        .ok_or("the identity provider names no token endpoint")
        .and_then(|t| TokenUrl::new(t).map_err(|_| "its token endpoint is not a URL"))?;
    let client = client(server, provider)?.set_token_uri(token_url);
    let http = for_oauth2(inner.http.clone(), inner.egress.clone());
    let answer = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(state.verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(answer) => {
                format!(
                    "the identity provider refused the code ({})",
                    answer.error()
                )
            }
            RequestTokenError::Request(CallError::Egress(denied)) => denied.to_string(),
            e => format!("the identity provider's token endpoint failed ({e})"),
        })?;
    let id_token = answer.extra_fields().id_token.clone().ok_or(
        "the identity provider answered without an ID token (is `openid` among the scopes?)",
    )?;
    let jwks_uri = metadata
        .jwks_uri
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .ok_or("the identity provider names no keys (`jwks_uri`)")?;
    let (_, keys) = first_document::<JwkSet>(&inner.http, &inner.egress, &[jwks_uri], "a JWKS")
        .await
        .map_err(|e| format!("the identity provider's keys cannot be fetched ({e:?})"))?;
    let claims = verify(&id_token, &keys, provider, &metadata.issuer, &state.nonce)?;
    check_rules(&claims, provider)?;
    match claims.get(&provider.user_claim) {
        Some(Value::String(user)) if !user.is_empty() => Ok(user.clone()),
        Some(Value::Number(user)) => Ok(user.to_string()),
        _ => Err(format!(
            "your ID token lacks the `{}` claim that names you",
            provider.user_claim
        )),
    }
}

/// The claims of `id_token` if the provider signed it for the gateway's client, for this
/// sign-in (`nonce`), and it has not expired.
fn verify(
    id_token: &str,
    keys: &JwkSet,
    provider: &IdentityProvider,
    issuer: &str,
    nonce: &str,
) -> Result<serde_json::Map<String, Value>, String> {
    let header = jsonwebtoken::decode_header(id_token)
        .map_err(|_| "the ID token is not a JWT".to_owned())?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(format!(
            "the ID token is signed with {:?}, which the gateway does not accept",
            header.alg
        ));
    }
    let jwk = match header.kid.as_deref() {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or("the ID token's key is not among the identity provider's keys")?;
    let key =
        DecodingKey::from_jwk(jwk).map_err(|e| format!("the provider's key is unusable ({e})"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[&provider.client_id]);
    validation.leeway = 60;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims =
        jsonwebtoken::decode::<serde_json::Map<String, Value>>(id_token, &key, &validation)
            .map_err(|e| format!("the ID token does not verify ({e})"))?
            .claims;
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err("the ID token was not issued for this sign-in (its nonce differs)".into());
    }
    Ok(claims)
}

/// The workspace's rules: allowed email domains and required claims.
fn check_rules(
    claims: &serde_json::Map<String, Value>,
    provider: &IdentityProvider,
) -> Result<(), String> {
    if !provider.allowed_email_domains.is_empty() {
        let email = claims.get("email").and_then(Value::as_str).ok_or(
            "your ID token carries no email, and this workspace admits users by email domain",
        )?;
        if claims.get("email_verified") == Some(&Value::Bool(false)) {
            return Err(format!("your email {email} is not verified"));
        }
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        if !domain.is_some_and(|d| {
            provider
                .allowed_email_domains
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(&d))
        }) {
            return Err(format!(
                "your email {email} is not in a domain this workspace admits"
            ));
        }
    }
    for (claim, wanted) in &provider.required_claims {
        if !claims
            .get(claim)
            .is_some_and(|got| claim_matches(got, wanted))
        {
            return Err(format!(
                "your ID token's `{claim}` claim does not carry what this workspace requires"
            ));
        }
    }
    Ok(())
}

fn unavailable(text: &str) -> Response {
    page(
        StatusCode::BAD_GATEWAY,
        "The workspace's identity provider cannot be used",
        text,
    )
}

/// The workspace whose provider signs in the users of the server at `slug`: its home workspace,
/// when it has one.
pub fn provider_for(
    config: &crate::snapshot::Config,
    slug: &str,
) -> Option<(Arc<Workspace>, Arc<IdentityProvider>)> {
    let route = config.route_by_slug(slug)?;
    let workspace = config.workspace(&route.server.workspace_id)?;
    let provider = workspace.identity_provider.clone()?;
    Some((workspace.clone(), provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(domains: &[&str], required: Value) -> IdentityProvider {
        IdentityProvider {
            issuer: "https://idp.example".into(),
            client_id: "gw".into(),
            client_secret: None,
            scopes: "openid".into(),
            user_claim: "email".into(),
            allowed_email_domains: domains.iter().map(|d| d.to_string()).collect(),
            required_claims: serde_json::from_value(required).unwrap(),
        }
    }

    fn claims(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn email_domains_and_required_claims_admit_or_refuse() {
        let rules = provider(&["example.com"], serde_json::json!({"groups": "mcp"}));
        let good = claims(serde_json::json!({"email": "a@Example.com", "groups": ["mcp", "x"]}));
        assert_eq!(check_rules(&good, &rules), Ok(()));
        let other = claims(serde_json::json!({"email": "a@evil.com", "groups": ["mcp"]}));
        assert!(
            check_rules(&other, &rules)
                .unwrap_err()
                .contains("not in a domain")
        );
        let unverified = claims(
            serde_json::json!({"email": "a@example.com", "email_verified": false, "groups": "mcp"}),
        );
        assert!(
            check_rules(&unverified, &rules)
                .unwrap_err()
                .contains("not verified")
        );
        let outsider = claims(serde_json::json!({"email": "a@example.com", "groups": ["x"]}));
        assert!(
            check_rules(&outsider, &rules)
                .unwrap_err()
                .contains("`groups`")
        );
        let open = provider(&[], serde_json::json!({}));
        assert_eq!(check_rules(&claims(serde_json::json!({})), &open), Ok(()));
    }
}
