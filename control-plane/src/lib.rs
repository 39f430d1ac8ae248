//! The MCP gateway's control plane: an event-sourced registry of workspaces, MCP servers, API
//! keys and data planes, with REST and gRPC admin APIs, the config-sync API for data planes,
//! an outbox relay to the event bus, and standalone mode (both planes in one process).

pub mod application;
pub mod domain;
pub mod store;
