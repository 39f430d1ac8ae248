//! Clients of the gateway's own OAuth authorization server (RFC 7591 registrations): their
//! redirect URIs, how they authenticate at the token endpoint and the scopes they may ask for.
//! A confidential client's secret is kept as its SHA-256 only.

use mcpgw_shared::{OAuthClientId, StreamId, redirect_uri};
use serde::{Deserialize, Serialize};

use super::{Aggregate, Decision, DomainError, DomainEvent, oauth_scope};

/// Longest client name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest client URI, in bytes.
const MAX_CLIENT_URI_BYTES: usize = 2000;
/// Most redirect URIs of one client.
pub const MAX_REDIRECT_URIS: usize = 10;

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// A public client: it has no secret (PKCE protects its codes).
    None,
    /// A confidential client sending its secret with HTTP Basic.
    ClientSecretBasic,
    /// A confidential client sending its secret in the form.
    ClientSecretPost,
}

impl TokenEndpointAuthMethod {
    /// The method named `text` (RFC 7591); empty is `none`.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match text {
            "" | "none" => Ok(Self::None),
            "client_secret_basic" => Ok(Self::ClientSecretBasic),
            "client_secret_post" => Ok(Self::ClientSecretPost),
            other => Err(DomainError::invalid(
                "token_endpoint_auth_method",
                format!(
                    "`{}` is not supported: use none, client_secret_basic or client_secret_post",
                    other.chars().take(64).collect::<String>()
                ),
            )),
        }
    }

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    /// Whether clients of this method hold a secret.
    pub fn is_confidential(self) -> bool {
        self != Self::None
    }
}

/// The grant types a client may use.
pub const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];

/// A client's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum OAuthClientEvent {
    /// It was registered.
    #[serde(rename = "OAuthClientRegistered")]
    Registered(Registration),
    /// It was revoked: it can no longer get or refresh tokens.
    #[serde(rename = "OAuthClientRevoked")]
    Revoked,
}

impl OAuthClientEvent {
    /// The stored type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Registered(_) => "OAuthClientRegistered",
            Self::Revoked => "OAuthClientRevoked",
        }
    }
}

/// What a client registered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Display name.
    pub name: String,
    /// Where codes may be sent.
    pub redirect_uris: Vec<String>,
    /// How it authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The grant types it uses.
    pub grant_types: Vec<String>,
    /// The scopes it may ask for, space-separated.
    pub scope: String,
    /// Its home page, if it gave one.
    #[serde(default)]
    pub client_uri: String,
    /// SHA-256 of a confidential client's secret (hex in the stored payload).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::hex_hash::option"
    )]
    pub secret_sha256: Option<[u8; 32]>,
}

/// What can be asked of a client.
#[derive(Debug, Clone)]
pub enum OAuthClientCommand {
    /// Register it; the fields are checked and normalized (empty grant types and scope mean
    /// all of them).
    Register(Registration),
    /// Revoke it; revoking a revoked client changes nothing.
    Revoke,
}

/// A client's state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// Its registration, once registered.
    pub registration: Option<Registration>,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl OAuthClient {
    /// Its registration while it is not revoked.
    pub fn active(&self) -> Option<&Registration> {
        self.registration.as_ref().filter(|_| !self.revoked)
    }
}

impl Aggregate for OAuthClient {
    type Id = OAuthClientId;
    type Event = OAuthClientEvent;
    type Command = OAuthClientCommand;

    fn stream(id: &OAuthClientId) -> StreamId {
        id.stream()
    }

    fn own(event: DomainEvent) -> Option<OAuthClientEvent> {
        match event {
            DomainEvent::OAuthClient(event) => Some(event),
            _ => None,
        }
    }

    fn apply(&mut self, event: &OAuthClientEvent) {
        match event {
            OAuthClientEvent::Registered(registration) => {
                self.registration = Some(registration.clone());
            }
            OAuthClientEvent::Revoked => self.revoked = true,
        }
    }

    fn decide(
        &self,
        id: &OAuthClientId,
        command: OAuthClientCommand,
    ) -> Result<Decision<OAuthClientEvent>, DomainError> {
        let events = match command {
            OAuthClientCommand::Register(registration) => {
                if self.registration.is_some() {
                    return Err(DomainError::AlreadyExists {
                        kind: "oauth client",
                        id: id.to_string(),
                    });
                }
                vec![OAuthClientEvent::Registered(normalize(registration)?)]
            }
            OAuthClientCommand::Revoke => match (&self.registration, self.revoked) {
                (None, _) => return Err(DomainError::not_found("oauth client", id)),
                (Some(_), true) => vec![],
                (Some(_), false) => vec![OAuthClientEvent::Revoked],
            },
        };
        // Clients are the authorization server's business: no data plane is sent them.
        Ok(Decision {
            events,
            audience: vec![],
        })
    }
}

/// Checks a registration and fills in its defaults.
fn normalize(mut registration: Registration) -> Result<Registration, DomainError> {
    if registration.name.chars().count() > MAX_NAME_CHARS {
        return Err(DomainError::invalid(
            "client_name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if registration.redirect_uris.is_empty() || registration.redirect_uris.len() > MAX_REDIRECT_URIS
    {
        return Err(DomainError::invalid(
            "redirect_uris",
            format!("register 1 to {MAX_REDIRECT_URIS} redirect URIs"),
        ));
    }
    for (index, uri) in registration.redirect_uris.iter().enumerate() {
        redirect_uri::check(uri)
            .map_err(|message| DomainError::invalid(format!("redirect_uris[{index}]"), message))?;
    }
    if registration.grant_types.is_empty() {
        registration.grant_types = GRANT_TYPES.map(str::to_owned).to_vec();
    }
    if let Some(other) = registration
        .grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(DomainError::invalid(
            "grant_types",
            format!(
                "`{}` is not supported: use authorization_code and refresh_token",
                other.chars().take(64).collect::<String>()
            ),
        ));
    }
    let scopes = oauth_scope::parse("scope", &registration.scope)?;
    registration.scope = if scopes.is_empty() {
        oauth_scope::EVERY_SCOPE.to_owned()
    } else {
        scopes.join(" ")
    };
    if !registration.client_uri.is_empty() {
        let https = url::Url::parse(&registration.client_uri)
            .is_ok_and(|url| matches!(url.scheme(), "https" | "http"));
        if !https || registration.client_uri.len() > MAX_CLIENT_URI_BYTES {
            return Err(DomainError::invalid(
                "client_uri",
                format!("must be an http(s) URL of at most {MAX_CLIENT_URI_BYTES} bytes"),
            ));
        }
    }
    let confidential = registration.token_endpoint_auth_method.is_confidential();
    if confidential != registration.secret_sha256.is_some() {
        return Err(DomainError::invalid(
            "token_endpoint_auth_method",
            "a confidential client has a secret and a public client none",
        ));
    }
    Ok(registration)
}

#[cfg(test)]
mod tests;
