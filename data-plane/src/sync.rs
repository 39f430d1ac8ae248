//! Keeping the configuration current over a TLS link to the control plane (clear text on
//! loopback only), refusing a control plane older than this data plane: boot from a gRPC snapshot (or the last-known-good file
//! when the control plane is down), apply bus events in sequence order by fetching the changed
//! entities, notice gaps from sequences and heartbeats and catch up, poll every second while
//! the bus is silent, report the applied sequence, and stop serving once the configuration is
//! older than `MCPGW_MAX_STALENESS`.

mod authorization;
mod client;
mod last_known_good;
mod link;
mod synchronizer;

pub use authorization::OAUTH_CALL_TIMEOUT;
pub use client::{SyncClient, SyncError};
pub use last_known_good::{LastKnownGood, LastKnownGoodError};
pub use link::{LinkError, SyncLink};
pub use synchronizer::{SyncSettings, Synchronizer};
