//! External JWTs: bearer tokens an organisation's own identity provider issued, accepted on
//! a workspace's servers beside API keys when the workspace says how to check them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Permission;
use crate::secret::Redacted;

/// How a workspace (or a server) checks bearer tokens from an existing identity provider.
///
/// Generic over the introspection client secret's representation `S`, as
/// [`IdentityProvider`](super::IdentityProvider): a request carries a `String`, the control
/// plane a [`SealedSecret`](crate::SealedSecret), a data plane a [`Redacted<String>`] (the
/// default). `Debug` never shows the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct JwtValidation<S = Redacted<String>> {
    /// The `iss` a token must carry.
    pub issuer: String,
    /// Where the issuer's signing keys are (a JWKS document); or give `jwks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The issuer's signing keys inline (`{"keys": [...]}`); or give `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// An RFC 7662 introspection endpoint that answers for the issuer's tokens, opaque ones
    /// included; with it, `jwks_uri` and `jwks` are optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection: Option<Introspection<S>>,
    /// Audiences accepted besides the URL of the server called (`<public base>/<slug>/mcp`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// Signature algorithms accepted (never `none`).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// How far `exp` and `nbf` may be off, in seconds.
    #[serde(default = "default_clock_tolerance")]
    pub clock_tolerance_seconds: u32,
    /// The claim that names the user.
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Claims a token must carry, and the value each must have: a string claim equal to it,
    /// an array claim or a space-separated string claim (such as `scope`) that holds it; a
    /// list of values means any of them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub required_claims: BTreeMap<String, Value>,
    /// The permissions a token gets, each with the claims (rules as in `required_claims`) a
    /// token must carry to get it; absent: every accepted token gets `mcp.invoke`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

/// Where and as whom the gateway asks an RFC 7662 introspection endpoint about a token
/// (client_secret_basic).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct Introspection<S = Redacted<String>> {
    /// The endpoint's URL.
    pub endpoint: String,
    /// The gateway's client id there.
    pub client_id: String,
    /// The gateway's client secret there; write-only. Left out of an update, the stored one
    /// is kept while `endpoint` and `client_id` stay the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<S>,
}

/// Where the introspection client secret is, as a field path (also its encryption context).
pub const INTROSPECTION_SECRET_PATH: &str = "jwt_validation.introspection.client_secret";

/// Longest introspection client secret accepted, in bytes.
pub const MAX_INTROSPECTION_SECRET_LEN: usize = 4096;

impl<S> fmt::Debug for Introspection<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl<S> Introspection<S> {
    /// Whether `other` is the same client at the same endpoint (then an update without a
    /// secret keeps the stored one).
    pub fn same_client<T>(&self, other: &Introspection<T>) -> bool {
        self.endpoint == other.endpoint && self.client_id == other.client_id
    }
}

impl<S> JwtValidation<S> {
    /// The same rules with the introspection secret converted by `f`, which also receives the
    /// secret's field path ([`INTROSPECTION_SECRET_PATH`]), usable as the encryption context.
    pub fn try_map_secret<T, E>(
        self,
        f: impl FnOnce(S, &str) -> Result<T, E>,
    ) -> Result<JwtValidation<T>, E> {
        let introspection = match self.introspection {
            Some(i) => Some(Introspection {
                client_secret: i
                    .client_secret
                    .map(|s| f(s, INTROSPECTION_SECRET_PATH))
                    .transpose()?,
                endpoint: i.endpoint,
                client_id: i.client_id,
            }),
            None => None,
        };
        Ok(JwtValidation {
            issuer: self.issuer,
            jwks_uri: self.jwks_uri,
            jwks: self.jwks,
            introspection,
            audiences: self.audiences,
            algorithms: self.algorithms,
            clock_tolerance_seconds: self.clock_tolerance_seconds,
            user_claim: self.user_claim,
            required_claims: self.required_claims,
            permissions: self.permissions,
        })
    }

    /// The permissions a token whose claims are `claims` gets: those whose rules all match
    /// (names that are no permission are skipped; validation refuses them); `mcp.invoke` alone
    /// when no `permissions` are set.
    pub fn permissions_for(&self, claims: &Value) -> Vec<Permission> {
        let Some(rules) = &self.permissions else {
            return vec![Permission::McpInvoke];
        };
        rules
            .iter()
            .filter(|(_, wanted)| {
                wanted.iter().all(|(claim, want)| {
                    claims
                        .get(claim)
                        .is_some_and(|got| claim_matches(got, want))
                })
            })
            .filter_map(|(name, _)| name.parse().ok())
            .collect()
    }

    /// The first permission name that is no [`Permission`], as its field path and why.
    pub fn unknown_permission(&self) -> Option<(String, String)> {
        self.permissions.as_ref()?.keys().find_map(|name| {
            name.parse::<Permission>()
                .err()
                .map(|e| (format!("jwt_validation.permissions.{name}"), e.to_string()))
        })
    }
}

impl<S: Clone> JwtValidation<S> {
    /// The rules as the admin API and the audit log show them: `client_secret_set` in place
    /// of the introspection client secret.
    pub fn shown(&self) -> Value {
        let marked = self
            .clone()
            .try_map_secret(|_, _| Ok::<_, std::convert::Infallible>(true))
            .unwrap_or_else(|never| match never {});
        let mut shown = serde_json::to_value(&marked).unwrap_or(Value::Null);
        if let Some(Value::Object(introspection)) = shown.get_mut("introspection") {
            let set = introspection.remove("client_secret").is_some();
            introspection.insert("client_secret_set".into(), Value::Bool(set));
        }
        shown
    }
}

impl JwtValidation<String> {
    /// Checks the introspection secret given in a request: not empty, not overlong.
    pub fn validate_secret(&self) -> Result<(), (String, String)> {
        match self
            .introspection
            .as_ref()
            .and_then(|i| i.client_secret.as_ref())
        {
            Some(secret) if secret.is_empty() || secret.len() > MAX_INTROSPECTION_SECRET_LEN => {
                Err((
                    INTROSPECTION_SECRET_PATH.to_owned(),
                    format!("must be 1 to {MAX_INTROSPECTION_SECRET_LEN} bytes"),
                ))
            }
            _ => Ok(()),
        }
    }
}

impl JwtValidation<Redacted<String>> {
    /// The JSON a data plane is sent, the introspection secret in plaintext (the config-sync
    /// channel and the data plane's sealed last-known-good file carry it so).
    pub fn to_json_with_secret(&self) -> String {
        let plain = self
            .clone()
            .try_map_secret(|s, _| Ok::<_, std::convert::Infallible>(s.into_inner()))
            .unwrap_or_else(|never| match never {});
        serde_json::to_string(&plain).expect("JWT rules serialize")
    }

    /// Reads what [`JwtValidation::to_json_with_secret`] wrote.
    pub fn from_json_with_secret(json: &str) -> Result<Self, serde_json::Error> {
        let plain: JwtValidation<String> = serde_json::from_str(json)?;
        Ok(plain
            .try_map_secret(|s, _| Ok::<_, std::convert::Infallible>(Redacted::new(s)))
            .unwrap_or_else(|never| match never {}))
    }
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".to_owned(), "ES256".to_owned()]
}

fn default_clock_tolerance() -> u32 {
    60
}

fn default_user_claim() -> String {
    "sub".to_owned()
}

/// The algorithms a workspace may accept.
pub const JWT_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// Whether the claim value `got` satisfies the rule `wanted` (see
/// [`JwtValidation::required_claims`]).
pub fn claim_matches(got: &Value, wanted: &Value) -> bool {
    match wanted {
        Value::Array(any) => any.iter().any(|w| claim_matches(got, w)),
        Value::String(want) => match got {
            Value::String(s) => s == want || s.split(' ').any(|part| part == want),
            Value::Array(items) => items.iter().any(|i| i.as_str() == Some(want)),
            _ => false,
        },
        other => got == other,
    }
}

#[cfg(test)]
mod tests;
