//! Data plane of the MCP gateway: an in-memory copy of the configuration, client
//! authentication and a lossless Streamable HTTP relay to upstream MCP servers.

pub mod snapshot;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use snapshot::{ApplyError, Change, ChangeSet, Config, ConfigStore, ConfigUpdater};
