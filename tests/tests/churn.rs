//! Config churn under load: 1,000 changes (server edits, key creations, key revocations,
//! provisioning changes) made through the admin API while clients call `tools/call` on two
//! data-plane processes without pause. Every answer is checked against the changes:
//!
//! - no 5xx at all (none of these changes explains one);
//! - a 401 only for a key whose revoke was sent before the request (or created too recently
//!   to have reached the pod), a 403 only on the server whose provisioning changes;
//! - no request started later than a key's revoke response plus the propagation bound is
//!   served with that key;
//! - the pods' memory is flat after warm-up.

use std::time::{Duration, Instant};

use mcpgw_e2e::churn::{BOUND, Churn};
use mcpgw_e2e::fleet::DataPlaneProcess;
use mcpgw_e2e::process::resident_kib;

/// How many changes the test makes.
const CHANGES: usize = 1_000;

fn rss_mib(pods: &[DataPlaneProcess]) -> Vec<u64> {
    pods.iter()
        .map(|p| p.pid().and_then(resident_kib).expect("a running pod") / 1024)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_changes_under_load_explain_every_error_and_no_revoked_key_is_served() {
    let mut churn = Churn::start().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let mut memory = Vec::new();
    for change in 0..CHANGES {
        if change == CHANGES / 10 {
            memory.push(rss_mib(&churn.pods));
        }
        churn.change(change).await;
    }
    let took = started.elapsed();
    churn.wait_converged().await;
    memory.push(rss_mib(&churn.pods));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let revokes = churn.revokes;
    let report = churn.explain().await;

    println!(
        "{CHANGES} changes ({revokes} revokes) in {:.1} s under load: {} calls, {} served, \
         {} refused for a revoked key, {} 5xx, {} unexplained",
        took.as_secs_f64(),
        report.calls,
        report.served,
        report.refused_after_revoke,
        report.errors_5xx,
        report.unexplained.len()
    );
    println!(
        "latest start of a request served after its key's revoke response: {:?} (bound {BOUND:?})",
        report.worst_served_after_revoke
    );
    println!(
        "pod memory (MiB) after {} changes: {:?}, after all: {:?}",
        CHANGES / 10,
        memory[0],
        memory[1]
    );
    let shown = &report.unexplained[..report.unexplained.len().min(10)];
    assert!(report.unexplained.is_empty(), "{shown:#?}");
    assert_eq!(report.errors_5xx, 0);
    assert!(
        report.refused_after_revoke > 0,
        "the clients never tried a revoked key"
    );
    assert!(
        report.served > CHANGES,
        "too little load: {} calls served",
        report.served
    );
    for (warm, end) in memory[0].iter().zip(&memory[1]) {
        assert!(
            *end < warm + 32,
            "memory grew from {warm} MiB to {end} MiB over the changes"
        );
    }
}
