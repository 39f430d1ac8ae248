//! Who made a change, as the event log records it.

use std::fmt;
use std::str::FromStr;

use mcpgw_shared::{ApiKeyId, DataPlaneId};

/// The author of a recorded change.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The gateway itself: the bootstrap admin key, standalone seeding.
    System,
    /// An administrator, by the id of the API key they used.
    ApiKey(ApiKeyId),
    /// A data plane (storing a user's upstream tokens).
    DataPlane(DataPlaneId),
}

/// Text that is not an actor's recorded form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a recorded actor (`system`, `api_key:<id>` or `data_plane:<id>`)")]
pub struct UnknownActor(String);

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::System => f.write_str("system"),
            Self::ApiKey(id) => write!(f, "api_key:{id}"),
            Self::DataPlane(id) => write!(f, "data_plane:{id}"),
        }
    }
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Actor({self})")
    }
}

impl FromStr for Actor {
    type Err = UnknownActor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownActor(s.chars().take(64).collect());
        match s.split_once(':') {
            None if s == "system" => Ok(Self::System),
            Some(("api_key", id)) => id.parse().map(Self::ApiKey).map_err(|_| unknown()),
            Some(("data_plane", id)) => id.parse().map(Self::DataPlane).map_err(|_| unknown()),
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests;
