//! The client an authorization request names: one registered with the gateway (RFC 7591, kept
//! by the control plane), or a Client ID Metadata Document at the `https` URL that is its
//! `client_id`, fetched through the egress policy (bounded in size and time) and kept a while.
//! A document must name itself as `client_id`, and its redirect URIs must pass the same checks
//! as registered ones.

use std::sync::Arc;
use std::time::Duration;

use mcpgw_shared::redirect_uri;
use serde::Deserialize;
use url::Url;

use crate::egress::EgressPolicy;
use crate::oauth::http::{DocumentError, first_document};
use crate::sync::SyncClient;

/// How long a fetched metadata document is used.
const DOCUMENT_KEPT_FOR: Duration = Duration::from_secs(300);
/// Most metadata documents kept.
const MAX_DOCUMENTS: u64 = 10_000;
/// Most redirect URIs one client may list.
const MAX_REDIRECT_URIS: usize = 10;

/// A client, as the authorization pages need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Its id (a URL for a metadata document).
    pub id: String,
    /// The name it gave, if any.
    pub name: Option<String>,
    /// Where it may be sent back.
    pub redirect_uris: Vec<String>,
}

impl Client {
    /// The registered redirect URI that `requested` is; the only one when none is requested.
    pub fn redirect_uri(&self, requested: Option<&str>) -> Result<String, String> {
        match requested {
            Some(requested) => self
                .redirect_uris
                .iter()
                .any(|registered| redirect_uri::matches(registered, requested))
                .then(|| requested.to_owned())
                .ok_or_else(|| {
                    format!(
                        "the redirect URI `{}` is not one the client registered ({})",
                        requested.chars().take(200).collect::<String>(),
                        self.redirect_uris.join(", ")
                    )
                }),
            None if self.redirect_uris.len() == 1 => Ok(self.redirect_uris[0].clone()),
            None => {
                Err("the request names no redirect_uri, and the client registered several".into())
            }
        }
    }
}

/// A Client ID Metadata Document, as far as the gateway reads it.
#[derive(Deserialize)]
struct MetadataDocument {
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

/// Fetches and keeps clients' metadata documents; cheap to clone.
#[derive(Clone)]
pub struct ClientDocuments {
    client: reqwest::Client,
    egress: Arc<EgressPolicy>,
    kept: moka::future::Cache<String, Client>,
}

impl ClientDocuments {
    /// Documents fetched with `client` through `egress`.
    pub fn new(client: reqwest::Client, egress: Arc<EgressPolicy>) -> Self {
        Self {
            client,
            egress,
            kept: moka::future::Cache::builder()
                .max_capacity(MAX_DOCUMENTS)
                .time_to_live(DOCUMENT_KEPT_FOR)
                .build(),
        }
    }

    /// The client whose metadata document is at `url`.
    async fn fetch(&self, url: &Url) -> Result<Client, String> {
        if let Some(client) = self.kept.get(url.as_str()).await {
            return Ok(client);
        }
        let (_, document) = first_document::<MetadataDocument>(
            &self.client,
            &self.egress,
            std::slice::from_ref(url),
            "a client metadata document",
        )
        .await
        .map_err(|e| match e {
            DocumentError::Egress(denied) => format!("the gateway may not fetch it: {denied}"),
            DocumentError::NotFound { last, .. } => format!("it could not be fetched: {last}"),
        })?;
        if document.client_id != url.as_str() {
            return Err(format!(
                "its `client_id` is `{}`, not its own URL",
                document.client_id.chars().take(200).collect::<String>()
            ));
        }
        if let Some(method) = document
            .token_endpoint_auth_method
            .as_deref()
            .filter(|m| *m != "none")
        {
            return Err(format!(
                "its token_endpoint_auth_method is `{method}`; the gateway takes metadata documents of public clients (`none`) only"
            ));
        }
        if document.redirect_uris.is_empty() || document.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(format!(
                "it must list 1 to {MAX_REDIRECT_URIS} redirect_uris"
            ));
        }
        for (i, uri) in document.redirect_uris.iter().enumerate() {
            redirect_uri::check(uri).map_err(|why| format!("its redirect_uris[{i}] {why}"))?;
        }
        let client = Client {
            id: document.client_id,
            name: document.client_name.map(|n| n.chars().take(200).collect()),
            redirect_uris: document.redirect_uris,
        };
        self.kept.insert(url.to_string(), client.clone()).await;
        Ok(client)
    }
}

/// The client `client_id` names, or why there is none to trust.
pub async fn find(
    sync: &SyncClient,
    documents: &ClientDocuments,
    client_id: &str,
) -> Result<Client, String> {
    if client_id.starts_with("https://") {
        let url = Url::parse(client_id).map_err(|e| format!("the client_id is not a URL ({e})"))?;
        if url.path() == "/" || url.fragment().is_some() || url.username() != "" {
            return Err("a client_id URL needs a path, and no fragment or user".into());
        }
        return documents.fetch(&url).await.map_err(|why| {
            format!("the client's metadata document at {client_id} is refused: {why}")
        });
    }
    match sync.oauth_client(client_id).await {
        Ok(Some(client)) => Ok(Client {
            id: client.client_id,
            name: Some(client.client_name).filter(|n| !n.is_empty()),
            redirect_uris: client.redirect_uris,
        }),
        Ok(None) => Err(format!(
            "no client `{}` is registered with this gateway (it may have been revoked): register again",
            client_id.chars().take(100).collect::<String>()
        )),
        Err(error) => Err(format!(
            "the gateway cannot look the client up now ({error}); retry shortly"
        )),
    }
}
