//! The last-known-good file: its envelope, and the snapshot inside as if it had decrypted
//! (decoded and applied to a fresh configuration).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcpgw_data_plane::snapshot::ConfigStore;
use mcpgw_data_plane::sync::LastKnownGood;
use mcpgw_shared::proto;
use prost::Message;

static FILE: LazyLock<LastKnownGood> = LazyLock::new(|| {
    LastKnownGood::new(
        std::path::Path::new("/nonexistent"),
        "mcpgwdp_fuzzfuzz_token",
    )
});

fuzz_target!(|data: &[u8]| {
    let _ = FILE.decode(data);
    if let Ok(snapshot) = proto::Snapshot::decode(data) {
        let (_, mut updater) = ConfigStore::new();
        let _ = updater.replace(snapshot);
    }
});
