//! Opening a session token a client sent: any text is refused or opens, never panics.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mcpgw_data_plane::session::SessionSealer;
use mcpgw_shared::ServerId;
use mcpgw_shared::secret::{Keyring, generate_base64_key};

static SEALER: LazyLock<SessionSealer> = LazyLock::new(|| {
    let keyring = Keyring::parse(&format!("k1:{}", generate_base64_key())).expect("a keyring");
    SessionSealer::new(keyring, Duration::from_secs(3600))
});
static SERVER: LazyLock<ServerId> = LazyLock::new(ServerId::new);

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = SEALER.open(token, &SERVER, 1, "k:fuzz");
    }
});
