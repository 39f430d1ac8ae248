//! What the gateway knows of MCP's wire protocol: the two eras and their headers ([`era`]), and
//! the strict reading of JSON-RPC bodies ([`message`]). Pure functions with errors of their own.

pub mod era;
pub mod message;
