//! Data plane of the MCP gateway: an in-memory copy of the configuration, client admission
//! under one access rule, an egress policy, and a lossless Streamable HTTP relay to upstream
//! MCP servers.
//!
//! To run a gateway: make a [`ConfigStore`] (feed its [`ConfigUpdater`] with snapshots and
//! entity states), then `Gateway::new(store, &settings)?.serve(listener, shutdown)`, or mount
//! [`Gateway::router`] in another server.

pub mod access;
pub mod admission;
pub mod app;
pub mod authorization;
pub mod config;
#[cfg(any(test, feature = "demo-upstream"))]
pub mod demo_upstream;
pub mod drain;
pub mod egress;
pub mod enforce;
pub mod errors;
mod gateway;
pub mod health;
pub mod limits;
pub mod oauth;
pub mod observe;
mod pages;
pub mod protocol;
pub mod registry;
pub mod relay;
mod sealed;
pub mod session;
pub mod snapshot;
pub mod sync;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use config::{Settings, SettingsError};
pub use drain::Drain;
pub use gateway::Gateway;
pub use snapshot::{ApplyError, Change, ChangeSet, Config, ConfigStore, ConfigUpdater};
