//! Slugs from request paths, and server URLs through the egress policy and log redaction.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcpgw_data_plane::egress::{self, EgressPolicy};
use mcpgw_shared::Slug;
use mcpgw_shared::request_log::without_query;

static POLICY: LazyLock<EgressPolicy> = LazyLock::new(EgressPolicy::public_only);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(slug) = Slug::parse(text) {
        assert_eq!(slug.as_str(), text);
    }
    let _ = without_query(text);
    if let Ok(url) = url::Url::parse(text) {
        let _ = POLICY.check_url(&url);
        // What logs show of a URL has no password and no query.
        let shown = url::Url::parse(&egress::redacted(&url)).expect("a redacted URL parses");
        assert!(shown.password().is_none());
        assert!(shown.query().is_none_or(|q| q == "[redacted]"));
    }
});
