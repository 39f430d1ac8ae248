//! Authorization-server metadata as a hostile server may send it: the issuer (first line)
//! gives the metadata locations, which stay on the issuer's origin; the rest is the document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpgw_data_plane::oauth::{AuthorizationServer, locations};

fuzz_target!(|data: &[u8]| {
    let (first, document) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    // `discover` takes only http(s) issuers with a host.
    if let Ok(issuer) = std::str::from_utf8(first)
        && let Ok(issuer) = url::Url::parse(issuer)
        && matches!(issuer.scheme(), "http" | "https")
        && issuer.has_host()
    {
        for location in locations(&issuer) {
            assert_eq!(location.origin(), issuer.origin(), "{location} leaves {issuer}");
            assert!(location.path().contains("/.well-known/"));
        }
    }
    let _ = serde_json::from_slice::<AuthorizationServer>(document);
});
