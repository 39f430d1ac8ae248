//! The control plane's network APIs: REST admin (axum), gRPC admin (tonic, over the REST
//! handlers) and gRPC config sync (tonic). Both go
//! through the service layer ([`crate::application::Service`]) and nothing else: no query and
//! no secret key is reachable from here (a test keeps it so).

pub mod admin;
pub mod authorization;
mod grpc;
pub mod grpc_tls;
pub mod rest;
pub mod sync;

#[cfg(test)]
mod tests;
