//! The control plane's network APIs: REST admin (axum) and gRPC config sync (tonic).

pub mod rest;
pub mod sync;
