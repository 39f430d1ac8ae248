//! The NATS server the tests use, and private NATS servers for tests that stop one.

use std::time::Duration;

/// The shared NATS server's URL.
pub fn nats_url() -> String {
    std::env::var("MCPGW_TEST_NATS_URL").unwrap_or_else(|_| {
        panic!(
            "MCPGW_TEST_NATS_URL is not set: run the suite with tests/run.sh, which starts NATS \
             and sets it (e.g. nats://127.0.0.1:4222)"
        )
    })
}

/// A client of the shared NATS server; fails the test clearly when it is not running.
pub async fn connect() -> async_nats::Client {
    let url = nats_url();
    tokio::time::timeout(Duration::from_secs(10), async_nats::connect(&url))
        .await
        .unwrap_or_else(|_| {
            panic!("NATS at {url} did not answer within 10 s (tests/run.sh starts it)")
        })
        .unwrap_or_else(|e| panic!("cannot connect to NATS at {url}: {e} (tests/run.sh starts it)"))
}
