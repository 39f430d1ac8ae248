//! External JWTs: bearer tokens an organisation's own identity provider issued, accepted on
//! a workspace's servers beside API keys when the workspace says how to check them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a workspace checks bearer JWTs from an existing identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtValidation {
    /// The `iss` a token must carry.
    pub issuer: String,
    /// Where the issuer's signing keys are (a JWKS document); or give `jwks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The issuer's signing keys inline (`{"keys": [...]}`); or give `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
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
