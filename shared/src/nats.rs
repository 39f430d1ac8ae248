//! NATS as the planes use it: which user a process connects as (an nkey seed, or a JWT
//! credentials file for servers in operator mode), and which subjects each user may touch.
//! Every data plane gets an nkey user of its own; the permissions below are what make
//! heartbeats and change events impossible to forge: only the control plane's user may
//! publish on them, so a data plane (or anyone holding its seed) can only listen.

use std::path::PathBuf;

use clap::Args;

use crate::ids::{DataPlaneId, WorkspaceId};
use crate::secret::Redacted;
use crate::subjects::Subjects;
use crate::wire::{Audience, EntityKind};

/// Where NATS is and who this process is on it.
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// The NATS server (or leaf node) carrying change events.
    #[arg(long, env = "MCPGW_NATS_URL")]
    pub nats_url: String,
    /// This process's NATS user as an nkey seed (`SU…`); a data plane's is shown once when it
    /// is registered.
    #[arg(long, env = "MCPGW_NATS_NKEY_SEED", hide_env_values = true)]
    pub nats_nkey_seed: Option<Redacted<String>>,
    /// A NATS credentials file (user JWT and seed), for NATS servers in operator mode.
    #[arg(long, env = "MCPGW_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
}

/// NATS cannot be used with these settings.
#[derive(Debug, thiserror::Error)]
pub enum NatsConnectError {
    /// Both kinds of credentials were given.
    #[error("set MCPGW_NATS_NKEY_SEED or MCPGW_NATS_CREDS, not both")]
    TwoIdentities,
    /// The credentials file cannot be read.
    #[error("cannot read MCPGW_NATS_CREDS ({path}): {source}")]
    Creds {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The seed is not an nkey seed.
    #[error("MCPGW_NATS_NKEY_SEED is not an nkey seed (it starts with `SU`)")]
    BadSeed,
    /// The server refused or could not be reached.
    #[error("cannot use NATS at {url} (MCPGW_NATS_URL): {source}")]
    Connect {
        /// The server.
        url: String,
        /// Why.
        #[source]
        source: async_nats::ConnectError,
    },
}

impl NatsArgs {
    /// Connects with `options` plus this process's identity.
    pub async fn connect(
        &self,
        options: async_nats::ConnectOptions,
    ) -> Result<async_nats::Client, NatsConnectError> {
        let options =
            match (&self.nats_nkey_seed, &self.nats_creds) {
                (Some(_), Some(_)) => return Err(NatsConnectError::TwoIdentities),
                (Some(seed), None) => {
                    nkeys::KeyPair::from_seed(seed.expose())
                        .map_err(|_| NatsConnectError::BadSeed)?;
                    options.nkey(seed.expose().clone())
                }
                (None, Some(path)) => options.credentials_file(path).await.map_err(|source| {
                    NatsConnectError::Creds {
                        path: path.clone(),
                        source,
                    }
                })?,
                (None, None) => options,
            };
        options
            .connect(&self.nats_url)
            .await
            .map_err(|source| NatsConnectError::Connect {
                url: self.nats_url.clone(),
                source,
            })
    }
}

/// A new nkey user: its seed (the secret a process connects with) and public key (what the
/// NATS server's configuration names).
pub fn new_user() -> (Redacted<String>, String) {
    let pair = nkeys::KeyPair::new_user();
    let seed = pair.seed().expect("a generated key pair has a seed");
    (Redacted::new(seed), pair.public_key())
}

/// The public key of an nkey seed.
pub fn public_key(seed: &str) -> Option<String> {
    nkeys::KeyPair::from_seed(seed)
        .ok()
        .map(|pair| pair.public_key())
}

/// What one NATS user may publish and subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// Subjects it may publish on.
    pub publish: Vec<String>,
    /// Subjects it may subscribe to.
    pub subscribe: Vec<String>,
}

impl Permissions {
    /// A data plane's: the heartbeat, data-plane registration changes, the config events of
    /// its workspaces (`None`: all) and every pod's rate-limit counts to read; its own status,
    /// request-log and rate-limit subjects to write.
    pub fn data_plane(
        subjects: &Subjects,
        id: DataPlaneId,
        workspaces: Option<&[WorkspaceId]>,
    ) -> Self {
        let mut subscribe = vec![subjects.heartbeat(), subjects.all_limits()];
        match workspaces {
            None => subscribe.push(subjects.all_config()),
            Some(workspaces) => {
                subscribe.push(subjects.config(Audience::Global, EntityKind::DataPlane));
                subscribe.extend(
                    workspaces
                        .iter()
                        .map(|w| subjects.config_of(Audience::Workspace(*w))),
                );
            }
        }
        Self {
            publish: vec![
                subjects.status_of(id),
                subjects.logs_of(id),
                subjects.limits_of(id),
            ],
            subscribe,
        }
    }

    /// The control plane's: everything of its cluster to write, data planes' status and logs
    /// (and replies) to read.
    pub fn control_plane(subjects: &Subjects) -> Self {
        Self {
            publish: vec![subjects.all()],
            subscribe: vec![
                subjects.all_status(),
                subjects.all_logs(),
                "_INBOX.>".to_owned(),
            ],
        }
    }
}

#[cfg(test)]
mod tests;
