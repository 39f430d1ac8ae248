//! `mcpgw`, the admin command line of the MCP gateway: the admin API's operations as commands,
//! a live tail of the audit log, and `apply`, a declarative sync of servers from a YAML file.
//! It speaks the gRPC admin API (`mcpgw.v1.Admin`) of the control plane.

pub mod apply;
pub mod client;
pub mod command;
pub mod output;
pub mod run;

pub use command::Cli;
