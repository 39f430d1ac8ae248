//! The gateway's own access tokens, verified on the pod: the signing keys' public halves are
//! fetched from the control plane and kept, refetched when a token names a key id they lack (a
//! rotation) at most every [`REFETCH_AFTER`], and every [`KEPT_FOR`] regardless (a retirement).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::admission::scope::Scopes;
use crate::errors::GatewayError;
use crate::sync::SyncClient;

/// How long fetched keys are used before they are fetched again.
const KEPT_FOR: Duration = Duration::from_secs(300);
/// A key id the kept keys lack refetches them, at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(5);

/// What an access token of the gateway says, once verified.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    /// The user.
    pub sub: String,
    /// The client it was issued to.
    pub client_id: String,
    /// Its scopes, space-separated.
    #[serde(default)]
    pub scope: String,
    /// The user's workspace.
    pub mcpgw_workspace: mcpgw_shared::WorkspaceId,
    /// Its grant (the refresh-token family).
    pub mcpgw_grant: String,
    /// When it expires (Unix seconds).
    pub exp: i64,
}

impl AccessClaims {
    /// Its scopes.
    pub fn scopes(&self) -> Scopes {
        Scopes::parse(&self.scope)
    }

    /// When it expires.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.exp, 0)
    }
}

/// The public signing keys as last fetched.
struct Kept {
    at: Instant,
    set: Arc<JwkSet>,
    json: Arc<str>,
}

/// Verifies the gateway's access tokens; cheap to clone.
#[derive(Clone)]
pub struct GatewayTokens {
    sync: SyncClient,
    issuer: Arc<str>,
    kept: Arc<Mutex<Option<Kept>>>,
}

impl std::fmt::Debug for GatewayTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayTokens")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl GatewayTokens {
    /// Tokens of `issuer`, verified with keys fetched through `sync`.
    pub fn new(sync: SyncClient, issuer: String) -> Self {
        Self {
            sync,
            issuer: issuer.into(),
            kept: Arc::default(),
        }
    }

    /// The issuer whose tokens these are.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public keys as a JWK Set document.
    pub async fn jwks(&self) -> Result<Arc<str>, GatewayError> {
        Ok(self.keys(None).await?.1)
    }

    /// The kept keys, fetched again when they are old, or when they lack `kid` and were not
    /// fetched just now.
    async fn keys(&self, kid: Option<&str>) -> Result<(Arc<JwkSet>, Arc<str>), GatewayError> {
        let mut kept = self.kept.lock().await;
        let stale = match kept.as_ref() {
            None => true,
            Some(k) => {
                k.at.elapsed() > KEPT_FOR
                    || kid.is_some_and(|kid| {
                        k.set.find(kid).is_none() && k.at.elapsed() > REFETCH_AFTER
                    })
            }
        };
        if stale {
            match self.sync.signing_keys().await {
                Ok(json) => {
                    let set: JwkSet = serde_json::from_str(&json).map_err(|e| {
                        GatewayError::InvalidToken(format!(
                            "the control plane's signing keys are not a JWK Set ({e})"
                        ))
                    })?;
                    *kept = Some(Kept {
                        at: Instant::now(),
                        set: Arc::new(set),
                        json: json.into(),
                    });
                }
                // Keys fetched before still verify while the control plane is away.
                Err(error) if kept.is_some() => {
                    tracing::warn!(%error, "cannot refresh the gateway's signing keys; using the kept ones");
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot fetch the gateway's signing keys");
                    return Err(GatewayError::TokenCheckUnavailable(
                        "the gateway cannot fetch its signing keys from the control plane".into(),
                    ));
                }
            }
        }
        let kept = kept.as_ref().expect("fetched above");
        Ok((kept.set.clone(), kept.json.clone()))
    }

    /// The claims of `token` if the gateway signed it for `audience` and it has not expired.
    pub async fn verify(&self, token: &str, audience: &str) -> Result<AccessClaims, GatewayError> {
        let refused = |why: String| GatewayError::InvalidToken(why);
        let kid = access_token_key_id(token)?;
        let (set, _) = self.keys(Some(&kid)).await?;
        let jwk = set.find(&kid).ok_or_else(|| {
            refused(format!(
                "its key `{kid}` is not one of the gateway's (signed by another gateway, or retired)"
            ))
        })?;
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| refused(format!("the gateway's key is unusable: {e}")))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&*self.issuer]);
        validation.set_audience(&[audience]);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                refused(match e.kind() {
                    ErrorKind::ExpiredSignature => {
                        "it has expired: refresh it at the token endpoint".into()
                    }
                    ErrorKind::InvalidAudience => format!(
                        "it was issued for another server, not {audience}: sign in for this one"
                    ),
                    ErrorKind::InvalidSignature => "its signature does not verify".into(),
                    _ => format!("it does not verify ({e})"),
                })
            })
    }
}

/// The key id in the header of `token` if the header is one of the gateway's access tokens:
/// ES256, typed `at+jwt` (RFC 9068 §4: so no other JWT the gateway signs, such as an identity
/// assertion for an upstream, passes for one), naming its key.
fn access_token_key_id(token: &str) -> Result<String, GatewayError> {
    let refused = |why: String| GatewayError::InvalidToken(why);
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| refused("its header is not a JWT header".into()))?;
    if header.alg != Algorithm::ES256 {
        return Err(refused(format!(
            "the gateway signs with ES256, not {:?}",
            header.alg
        )));
    }
    if !matches!(header.typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
        return Err(refused(
            "its type (`typ`) is not `at+jwt`: it is not an access token".into(),
        ));
    }
    header
        .kid
        .ok_or_else(|| refused("it names no key (`kid`)".into()))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn token_with(header: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"alice"}"#)
        )
    }

    fn refusal(header: &str) -> String {
        match access_token_key_id(&token_with(header)) {
            Err(GatewayError::InvalidToken(why)) => why,
            other => panic!("a refusal, not {other:?}"),
        }
    }

    #[test]
    fn only_an_es256_access_token_naming_its_key_is_looked_up() {
        for typ in ["at+jwt", "application/at+jwt"] {
            let header = format!(r#"{{"alg":"ES256","typ":"{typ}","kid":"k1"}}"#);
            assert_eq!(access_token_key_id(&token_with(&header)).unwrap(), "k1");
        }
        assert!(refusal(r#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#).contains("`at+jwt`"));
        assert!(refusal(r#"{"alg":"ES256","kid":"k1"}"#).contains("`at+jwt`"));
        assert!(refusal(r#"{"alg":"RS256","typ":"at+jwt","kid":"k1"}"#).contains("ES256"));
        assert!(refusal(r#"{"alg":"ES256","typ":"at+jwt"}"#).contains("`kid`"));
        assert!(refusal("not json").contains("not a JWT header"));
    }
}
