//! The bus subjects of one cluster. Every subject starts with `mcpgw.<cluster>`
//! (`MCPGW_CLUSTER`, default `default`), so control planes of two clusters that share a NATS
//! server never see each other's messages, and NATS permissions can be granted per cluster:
//!
//! | subject | who publishes | who subscribes |
//! |---|---|---|
//! | `mcpgw.<cluster>.config.<workspace>.<kind>` | the control plane | data planes of that workspace |
//! | `mcpgw.<cluster>.config._global.<kind>` | the control plane | every data plane |
//! | `mcpgw.<cluster>.heartbeat` | the control plane | every data plane |
//! | `mcpgw.<cluster>.status.<data plane>` | that data plane | the control plane |
//! | `mcpgw.<cluster>.logs.<data plane>.>` | that data plane | the control plane |
//! | `mcpgw.<cluster>.limits.<data plane>` | that data plane's pods | every data plane |

use std::fmt;
use std::str::FromStr;

use crate::ids::DataPlaneId;
use crate::wire::{Audience, EntityKind};

/// The first token of every subject.
const ROOT: &str = "mcpgw";

/// A cluster's name: 1 to 64 letters, digits, `-` or `_` (one NATS subject token).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cluster(String);

/// The text is not a cluster name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a cluster name (MCPGW_CLUSTER): use 1 to 64 letters, digits, '-' or '_'")]
pub struct InvalidCluster(String);

impl Cluster {
    /// The cluster's subjects.
    pub fn subjects(&self) -> Subjects {
        Subjects {
            root: format!("{ROOT}.{}", self.0),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Cluster {
    fn default() -> Self {
        Self("default".to_owned())
    }
}

impl FromStr for Cluster {
    type Err = InvalidCluster;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidCluster(s.to_owned()))
        }
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cluster({})", self.0)
    }
}

/// The subjects of one cluster (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    root: String,
}

impl Default for Subjects {
    fn default() -> Self {
        Cluster::default().subjects()
    }
}

impl Subjects {
    /// Where a change of `kind` is published for `audience`.
    pub fn config(&self, audience: Audience, kind: EntityKind) -> String {
        format!("{}.config.{audience}.{}", self.root, kind.as_str())
    }

    /// Every change published for `audience`.
    pub fn config_of(&self, audience: Audience) -> String {
        format!("{}.config.{audience}.>", self.root)
    }

    /// Every change of the cluster.
    pub fn all_config(&self) -> String {
        format!("{}.config.>", self.root)
    }

    /// The control plane's heartbeat.
    pub fn heartbeat(&self) -> String {
        format!("{}.heartbeat", self.root)
    }

    /// Where a data plane publishes its status.
    pub fn status_of(&self, data_plane: DataPlaneId) -> String {
        format!("{}.status.{data_plane}", self.root)
    }

    /// Where a data plane publishes its request logs (a prefix: `.>`).
    pub fn logs_of(&self, data_plane: DataPlaneId) -> String {
        format!("{}.logs.{data_plane}.>", self.root)
    }

    /// Where a data plane sends its request-log batches (within [`Self::logs_of`]).
    pub fn requests_of(&self, data_plane: DataPlaneId) -> String {
        format!("{}.logs.{data_plane}.requests", self.root)
    }

    /// The data plane that sent request-log batches on `subject`, if it is such a subject of
    /// this cluster.
    pub fn requests_sender(&self, subject: &str) -> Option<DataPlaneId> {
        let rest = subject.strip_prefix(&self.root)?.strip_prefix(".logs.")?;
        let id = rest.strip_suffix(".requests")?;
        id.parse().ok()
    }

    /// Where a data plane's pods report their rate-limit counts.
    pub fn limits_of(&self, data_plane: DataPlaneId) -> String {
        format!("{}.limits.{data_plane}", self.root)
    }

    /// Every pod's rate-limit counts.
    pub fn all_limits(&self) -> String {
        format!("{}.limits.>", self.root)
    }

    /// Every data plane's status.
    pub fn all_status(&self) -> String {
        format!("{}.status.>", self.root)
    }

    /// Every data plane's request logs.
    pub fn all_logs(&self) -> String {
        format!("{}.logs.>", self.root)
    }

    /// Every subject of the cluster.
    pub fn all(&self) -> String {
        format!("{}.>", self.root)
    }
}

#[cfg(test)]
mod tests;
