//! The token vault as a data plane sees it: a user's upstream tokens, sealed with
//! `MCPGW_TOKEN_KEY` before they leave the pod, stored by the control plane with
//! compare-and-swap on the connection's version, and back to every pod like any change.

use std::sync::Arc;

use mcpgw_shared::model::ConnectionRecord;
use mcpgw_shared::secret::Keyring;
use mcpgw_shared::{ConnectionId, SealedSecret, SecretCipher, ServerId};
use serde::{Deserialize, Serialize};

use crate::sync::{SyncClient, SyncError};

/// A user's tokens at one upstream, with what refreshing them needs (the client the
/// authorization server issued them to, and where). Never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTokenSet {
    /// The access token sent upstream.
    pub access_token: String,
    /// The refresh token, if the authorization server issued one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When to refresh (Unix seconds): shortly before the access token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_at: Option<i64>,
    /// The scope granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The scope the sign-in asked for (a step-up asks for more only once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scope: Option<String>,
    /// The authorization server's issuer.
    pub issuer: String,
    /// Its token endpoint.
    pub token_endpoint: String,
    /// The client the tokens were issued to.
    pub client_id: String,
    /// That client's secret, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The RFC 8707 resource the tokens are for, if one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Set while one pod refreshes (Unix seconds it lapses at): other pods wait for its
    /// result instead of spending the refresh token too, which an authorization server that
    /// detects refresh-token reuse answers by revoking the whole grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lease_until: Option<i64>,
    /// The URL elicitation this sign-in completes: pods send
    /// `notifications/elicitation/complete` for it on the user's open GET streams. Only on the
    /// sign-in's own write, never carried on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elicitation_id: Option<String>,
    /// Why the sign-in ended (its refresh token was refused or never issued): the user must
    /// sign in again, and is told this. The connection stays, so its streams stay open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_out: Option<String>,
}

impl std::fmt::Debug for UserTokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTokenSet")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("refresh_at", &self.refresh_at)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl UserTokenSet {
    /// Whether the access token may still be sent at `now` (Unix seconds).
    pub fn fresh_at(&self, now: i64) -> bool {
        self.refresh_at.is_none_or(|at| now < at)
    }

    /// A signed-out token set: nothing to send, only why.
    pub fn signed_out(before: &UserTokenSet, reason: String) -> Self {
        Self {
            access_token: String::new(),
            refresh_token: None,
            refresh_at: None,
            refresh_lease_until: None,
            elicitation_id: None,
            signed_out: Some(reason),
            ..before.clone()
        }
    }

    /// Whether another pod holds the refresh at `now`.
    pub fn leased_at(&self, now: i64) -> bool {
        self.refresh_lease_until.is_some_and(|until| now < until)
    }
}

/// A write the control plane recorded.
#[derive(Debug, Clone)]
pub struct Written {
    /// The sequence of its event.
    pub seq: i64,
    /// The connection now stored; `None` when it was ended.
    pub record: Option<Arc<ConnectionRecord>>,
}

/// A stored connection could not be opened.
#[derive(Debug, thiserror::Error)]
#[error(
    "the stored tokens of this connection cannot be opened with MCPGW_TOKEN_KEY (was the key replaced without keeping the old one?)"
)]
pub struct Unreadable;

/// Seals, opens and stores users' tokens.
#[derive(Clone)]
pub struct Vault {
    cipher: SecretCipher,
    sync: SyncClient,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

fn context(id: &ConnectionId) -> String {
    format!("connection:{id}")
}

impl Vault {
    /// A vault sealing with `key`, storing through `sync`.
    pub fn new(key: Keyring, sync: SyncClient) -> Self {
        Self {
            cipher: SecretCipher::new(key),
            sync,
        }
    }

    /// The tokens of a stored connection.
    pub fn open(&self, record: &ConnectionRecord) -> Result<UserTokenSet, Unreadable> {
        let sealed: SealedSecret =
            serde_json::from_slice(&record.sealed).map_err(|_| Unreadable)?;
        let text = self
            .cipher
            .open(&sealed, &context(&record.id))
            .map_err(|_| Unreadable)?;
        serde_json::from_str(text.expose()).map_err(|_| Unreadable)
    }

    /// Stores `tokens` (or, with `None`, ends the connection) if the connection of `user` to
    /// `server` is still at `expected_version`.
    pub async fn write(
        &self,
        server: &ServerId,
        user: &str,
        expected_version: i64,
        tokens: Option<&UserTokenSet>,
    ) -> Result<Written, SyncError> {
        let id = ConnectionId::of(server, user);
        let sealed = match tokens {
            Some(tokens) => {
                let json = serde_json::to_string(tokens).expect("token sets serialize");
                serde_json::to_vec(&self.cipher.seal(&json, &context(&id)))
                    .expect("sealed secrets serialize")
            }
            None => Vec::new(),
        };
        let signed_out = tokens.is_some_and(|t| t.signed_out.is_some());
        let stored = self
            .sync
            .store_connection(server, user, expected_version, sealed.clone(), signed_out)
            .await?;
        let record = tokens.map(|_| {
            Arc::new(ConnectionRecord {
                id,
                server_id: *server,
                user_id: user.to_owned(),
                version: stored.version,
                sealed,
            })
        });
        Ok(Written {
            seq: stored.seq,
            record,
        })
    }

    /// The connection as the control plane holds it now (after a lost compare-and-swap).
    pub async fn current(&self, id: &ConnectionId) -> Result<Option<ConnectionRecord>, SyncError> {
        self.sync.connection(id).await
    }
}
