//! The MCP gateway's control plane: an event-sourced registry of workspaces, MCP servers, API
//! keys and data planes, with REST and gRPC admin APIs, the config-sync API for data planes,
//! an outbox relay to the event bus, and standalone mode (both planes in one process).

pub mod api;
pub mod app;
pub mod application;
pub mod config;
pub mod doctor;
pub mod domain;
pub mod metrics;
pub mod outbox;
pub mod request_log;
pub mod secrets;
pub mod standalone;
pub mod store;
