//! The OpenID Connect provider a workspace's users sign in with at the gateway's own OAuth
//! authorization server (`identity_provider` on the workspace).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::secret::Redacted;

/// A workspace's OpenID Connect provider. The client secret is write-only: the control plane
/// stores it sealed, the admin API never shows it, and only data planes receive it.
///
/// Generic over the secret's representation `S`, as [`UpstreamAuth`](super::UpstreamAuth):
/// a request carries a `String`, the control plane a [`SealedSecret`](crate::SealedSecret), a
/// data plane a [`Redacted<String>`] (the default). `Debug` never shows the secret, whatever
/// `S` is.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "S: Deserialize<'de>"))]
pub struct IdentityProvider<S = Redacted<String>> {
    /// The provider's issuer (its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// The gateway's client id at the provider.
    pub client_id: String,
    /// The gateway's client secret; absent: a public client (PKCE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<S>,
    /// The scopes asked for, space-separated; always includes `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// The ID-token claim that names the user.
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// When not empty, only users whose ID token's `email` ends with `@<domain>` for one of
    /// these, and whose `email_verified` is not `false`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_email_domains: Vec<String>,
    /// Claims the ID token must carry, with the same rules as
    /// [`JwtValidation::required_claims`](super::JwtValidation::required_claims) (checked with
    /// [`claim_matches`](super::claim_matches)).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub required_claims: BTreeMap<String, Value>,
}

/// The scopes asked for when none are given.
pub const DEFAULT_SCOPES: &str = "openid email profile";

fn default_scopes() -> String {
    DEFAULT_SCOPES.to_owned()
}

fn default_user_claim() -> String {
    "email".to_owned()
}

/// Where the client secret is, as a field path (also its encryption context).
pub const CLIENT_SECRET_PATH: &str = "identity_provider.client_secret";

/// Longest issuer URL accepted, in bytes.
pub const MAX_ISSUER_LEN: usize = 2000;
/// Longest client id accepted, in characters.
pub const MAX_CLIENT_ID_LEN: usize = 256;
/// Longest client secret accepted, in bytes.
pub const MAX_CLIENT_SECRET_LEN: usize = 4096;
/// Longest scope list accepted, in bytes.
pub const MAX_SCOPES_LEN: usize = 1000;
/// Most allowed email domains.
pub const MAX_EMAIL_DOMAINS: usize = 100;

/// Why an identity provider is refused: the field (such as `identity_provider.issuer`) and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidIdentityProvider {
    /// Path of the field.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> InvalidIdentityProvider {
    InvalidIdentityProvider {
        field: field.into(),
        message: message.into(),
    }
}

impl<S> IdentityProvider<S> {
    /// Checks every field but the secret's value (see [`IdentityProvider::validate_secret`]).
    pub fn validate(&self) -> Result<(), InvalidIdentityProvider> {
        check_issuer(&self.issuer).map_err(|m| invalid("identity_provider.issuer", m))?;
        let client_id_len = self.client_id.chars().count();
        if client_id_len == 0 || client_id_len > MAX_CLIENT_ID_LEN {
            return Err(invalid(
                "identity_provider.client_id",
                format!("must be 1 to {MAX_CLIENT_ID_LEN} characters"),
            ));
        }
        if self.client_id.chars().any(char::is_control) {
            return Err(invalid(
                "identity_provider.client_id",
                "must not contain control characters",
            ));
        }
        check_scopes(&self.scopes).map_err(|m| invalid("identity_provider.scopes", m))?;
        if self.user_claim.trim().is_empty() || self.user_claim.chars().any(char::is_control) {
            return Err(invalid(
                "identity_provider.user_claim",
                "must name the ID-token claim that names the user (such as `email` or `sub`)",
            ));
        }
        if self.allowed_email_domains.len() > MAX_EMAIL_DOMAINS {
            return Err(invalid(
                "identity_provider.allowed_email_domains",
                format!("must list at most {MAX_EMAIL_DOMAINS} domains"),
            ));
        }
        for (i, domain) in self.allowed_email_domains.iter().enumerate() {
            check_domain(domain)
                .map_err(|m| invalid(format!("identity_provider.allowed_email_domains[{i}]"), m))?;
        }
        Ok(())
    }

    /// The same provider with its secret converted by `f`, which also receives the secret's
    /// field path ([`CLIENT_SECRET_PATH`]), usable as the encryption context.
    pub fn try_map_secret<T, E>(
        self,
        f: impl FnOnce(S, &str) -> Result<T, E>,
    ) -> Result<IdentityProvider<T>, E> {
        Ok(IdentityProvider {
            client_secret: self
                .client_secret
                .map(|s| f(s, CLIENT_SECRET_PATH))
                .transpose()?,
            issuer: self.issuer,
            client_id: self.client_id,
            scopes: self.scopes,
            user_claim: self.user_claim,
            allowed_email_domains: self.allowed_email_domains,
            required_claims: self.required_claims,
        })
    }

    /// Whether `other` is the same client at the same provider (then an update without a
    /// secret keeps the stored one).
    pub fn same_client<T>(&self, other: &IdentityProvider<T>) -> bool {
        self.issuer == other.issuer && self.client_id == other.client_id
    }
}

impl IdentityProvider<String> {
    /// Checks the secret given in a request: not empty, not overlong.
    pub fn validate_secret(&self) -> Result<(), InvalidIdentityProvider> {
        match &self.client_secret {
            Some(secret) if secret.is_empty() || secret.len() > MAX_CLIENT_SECRET_LEN => {
                Err(invalid(
                    CLIENT_SECRET_PATH,
                    format!(
                        "must be 1 to {MAX_CLIENT_SECRET_LEN} bytes; leave it out for a public client"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

impl IdentityProvider<Redacted<String>> {
    /// The JSON a data plane is sent, the client secret in plaintext (the config-sync channel
    /// and the data plane's sealed last-known-good file carry it so).
    pub fn to_json_with_secret(&self) -> String {
        let plain = self
            .clone()
            .try_map_secret(|s, _| Ok::<_, std::convert::Infallible>(s.into_inner()))
            .unwrap_or_else(|never| match never {});
        serde_json::to_string(&plain).expect("an identity provider serializes")
    }

    /// Reads what [`IdentityProvider::to_json_with_secret`] wrote.
    pub fn from_json_with_secret(json: &str) -> Result<Self, serde_json::Error> {
        let plain: IdentityProvider<String> = serde_json::from_str(json)?;
        Ok(plain
            .try_map_secret(|s, _| Ok::<_, std::convert::Infallible>(Redacted::new(s)))
            .unwrap_or_else(|never| match never {}))
    }
}

impl<S> fmt::Debug for IdentityProvider<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("scopes", &self.scopes)
            .field("user_claim", &self.user_claim)
            .field("allowed_email_domains", &self.allowed_email_domains)
            .field("required_claims", &self.required_claims)
            .finish()
    }
}

/// An absolute `https` URL (`http` on a loopback host, for tests) with a host, no
/// credentials, query or fragment (OpenID Connect Discovery 1.0 §3).
fn check_issuer(issuer: &str) -> Result<(), String> {
    if issuer.len() > MAX_ISSUER_LEN {
        return Err(format!("must be at most {MAX_ISSUER_LEN} bytes"));
    }
    let url = Url::parse(issuer).map_err(|e| format!("is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if crate::redirect_uri::is_loopback(&url) => {}
        "http" => {
            return Err(
                "uses http on a host that is not loopback (127.0.0.1, [::1] or localhost): use https"
                    .into(),
            );
        }
        _ => return Err("must be an https URL".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must have no query and no fragment".into());
    }
    Ok(())
}

/// Space-separated RFC 6749 §3.3 scope tokens, `openid` among them.
fn check_scopes(scopes: &str) -> Result<(), String> {
    if scopes.len() > MAX_SCOPES_LEN {
        return Err(format!("must be at most {MAX_SCOPES_LEN} bytes"));
    }
    let valid_token = |t: &str| {
        t.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    };
    if let Some(bad) = scopes.split(' ').find(|t| !t.is_empty() && !valid_token(t)) {
        return Err(format!("`{bad}` is not a valid scope"));
    }
    if !scopes.split(' ').any(|t| t == "openid") {
        return Err("must include `openid`".into());
    }
    Ok(())
}

/// A domain name such as `example.com`: no `@`, no scheme, no spaces.
fn check_domain(domain: &str) -> Result<(), String> {
    let labels_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if labels_ok {
        Ok(())
    } else {
        Err(format!(
            "`{domain}` is not a domain name such as `example.com` (no `@`, no scheme)"
        ))
    }
}

#[cfg(test)]
mod tests;
