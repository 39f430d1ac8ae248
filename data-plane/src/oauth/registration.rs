//! Which client the gateway is at an upstream's authorization server, in the MCP
//! specification's order of preference: the pre-registered client of the server's
//! `oauth_metadata` (and then nothing else is tried), else its own Client ID Metadata Document
//! (when the authorization server accepts them and the gateway's public URL is https), else a
//! client registered dynamically (RFC 7591) at the server's registration endpoint.

use serde::{Deserialize, Serialize};

use super::discovery::AuthorizationServer;
use super::http::{CallError, call};
use crate::egress::EgressPolicy;

/// The gateway's client at one authorization server.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// Its client id.
    pub client_id: String,
    /// Its secret; `None` for a public client.
    pub client_secret: Option<String>,
    /// How the gateway came to be this client.
    pub source: ClientSource,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// How the gateway came to be a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientSource {
    /// The server's `oauth_metadata.client_id`.
    PreRegistered,
    /// The gateway's Client ID Metadata Document: the client id is its URL.
    MetadataDocument,
    /// Dynamic client registration (RFC 7591).
    Dynamic,
}

/// No client could be had.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// No pre-registered client, and the authorization server offers no registration.
    #[error(
        "Incompatible auth server: does not support dynamic client registration. Register a client for the gateway at {issuer} with the redirect URI {callback}, then set `auth.oauth_metadata.client_id` (and `client_secret`, for a confidential client) on the server"
    )]
    NoRegistration {
        /// The authorization server.
        issuer: String,
        /// The redirect URI to register.
        callback: String,
    },
    /// The registration endpoint refused.
    #[error("the authorization server refused to register the gateway: {0}")]
    Refused(String),
    /// The registration endpoint could not be reached or answered nonsense.
    #[error("the registration endpoint failed: {0}")]
    Failed(String),
    /// The egress policy refused the registration endpoint.
    #[error("{0}")]
    Egress(String),
}

/// RFC 7591's request, as the MCP specification asks for it (`application_type` included).
#[derive(Serialize)]
struct RegistrationRequest<'a> {
    client_name: &'a str,
    redirect_uris: [&'a str; 1],
    grant_types: [&'static str; 2],
    response_types: [&'static str; 1],
    token_endpoint_auth_method: &'static str,
    application_type: &'static str,
}

#[derive(Deserialize)]
struct RegistrationAnswer {
    client_id: String,
    client_secret: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    error_description: Option<String>,
}

/// The pre-registered client, if the server's `oauth_metadata` names one.
pub fn pre_registered(client_id: Option<&str>, client_secret: Option<&str>) -> Option<OAuthClient> {
    client_id.map(|id| OAuthClient {
        client_id: id.to_owned(),
        client_secret: client_secret.map(str::to_owned),
        source: ClientSource::PreRegistered,
    })
}

/// Where the gateway serves its Client ID Metadata Document, under the public base URL.
pub const METADATA_DOCUMENT_PATH: &str = "/oauth/client-metadata.json";

/// The gateway's Client ID Metadata Document: a public client (PKCE, no secret) whose id is
/// the document's own URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetadataDocument {
    client_id: String,
    client_name: &'static str,
    redirect_uris: [String; 1],
    grant_types: [&'static str; 2],
    response_types: [&'static str; 1],
    token_endpoint_auth_method: &'static str,
    application_type: &'static str,
}

impl MetadataDocument {
    /// The document of a gateway whose public base URL is `base` (https only: an
    /// authorization server fetches it, and the specification requires https).
    pub fn for_base(base: &url::Url) -> Option<Self> {
        if base.scheme() != "https" {
            return None;
        }
        let at = |path: &str| format!("{}{path}", base.as_str().trim_end_matches('/'));
        Some(Self {
            client_id: at(METADATA_DOCUMENT_PATH),
            client_name: "MCP Gateway",
            redirect_uris: [at(super::sign_in::CALLBACK_PATH)],
            grant_types: ["authorization_code", "refresh_token"],
            response_types: ["code"],
            token_endpoint_auth_method: "none",
            application_type: "web",
        })
    }

    /// The client the document makes the gateway.
    pub fn client(&self) -> OAuthClient {
        OAuthClient {
            client_id: self.client_id.clone(),
            client_secret: None,
            source: ClientSource::MetadataDocument,
        }
    }
}

/// Registers the gateway at `server` (RFC 7591) as a confidential web client redirecting to
/// `callback`. No `scope` is registered: the client may later ask for more (a step-up).
pub async fn register(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    server: &AuthorizationServer,
    callback: &str,
    client_name: &str,
) -> Result<OAuthClient, RegistrationError> {
    let Some(endpoint) = &server.registration_endpoint else {
        return Err(RegistrationError::NoRegistration {
            issuer: server.issuer.clone(),
            callback: callback.to_owned(),
        });
    };
    let basic = server
        .token_endpoint_auth_methods_supported
        .as_ref()
        .is_none_or(|m| m.iter().any(|m| m == "client_secret_basic"));
    let body = RegistrationRequest {
        client_name,
        redirect_uris: [callback],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: if basic { "client_secret_basic" } else { "none" },
        application_type: "web",
    };
    let request = http::Request::post(endpoint.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(serde_json::to_vec(&body).expect("registration requests serialize"))
        .map_err(|e| {
            RegistrationError::Failed(format!("the registration endpoint is not a URL: {e}"))
        })?;
    let response = call(client, egress, request).await.map_err(|e| match e {
        CallError::Egress(denied) => RegistrationError::Egress(denied.to_string()),
        e => RegistrationError::Failed(e.to_string()),
    })?;
    if !response.status().is_success() {
        let reason = serde_json::from_slice::<ErrorAnswer>(response.body())
            .map(|e| match e.error_description {
                Some(description) => format!("{} ({description})", e.error),
                None => e.error,
            })
            .unwrap_or_else(|_| format!("HTTP {}", response.status().as_u16()));
        return Err(RegistrationError::Refused(reason));
    }
    let answer: RegistrationAnswer = serde_json::from_slice(response.body())
        .map_err(|e| RegistrationError::Failed(format!("not a registration answer ({e})")))?;
    Ok(OAuthClient {
        client_id: answer.client_id,
        client_secret: answer.client_secret,
        source: ClientSource::Dynamic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_https_gateway_has_a_metadata_document_naming_itself() {
        let http = url::Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(MetadataDocument::for_base(&http), None);
        let https = url::Url::parse("https://mcp.example.com/").unwrap();
        let document = MetadataDocument::for_base(&https).unwrap();
        let json = serde_json::to_value(&document).unwrap();
        assert_eq!(
            json["client_id"],
            "https://mcp.example.com/oauth/client-metadata.json"
        );
        assert_eq!(
            json["redirect_uris"][0],
            "https://mcp.example.com/oauth/upstream-callback"
        );
        assert_eq!(json["token_endpoint_auth_method"], "none");
        assert!(json.get("client_secret").is_none());
        assert_eq!(document.client().client_secret, None);
    }
}
