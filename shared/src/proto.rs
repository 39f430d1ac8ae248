//! The gRPC APIs, generated from `proto/mcpgw/v1`: config sync (`sync.proto`) and admin
//! (`admin.proto`).

#![allow(missing_docs)]

tonic::include_proto!("mcpgw.v1");

/// The encoded file descriptor set, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("mcpgw_descriptor");
