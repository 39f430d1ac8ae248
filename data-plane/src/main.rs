//! The `mcpgw-data-plane` binary.

fn main() {}
