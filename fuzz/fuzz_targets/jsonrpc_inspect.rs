//! The JSON-RPC envelope and the params the gateway routes on, in both protocol eras.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpgw_data_plane::protocol::era::Era;
use mcpgw_data_plane::protocol::message::{inspect, peek_id};

fuzz_target!(|data: &[u8]| {
    let _ = inspect(data, Era::Sessions);
    let _ = inspect(data, Era::Stateless);
    let _ = peek_id(data);
});
