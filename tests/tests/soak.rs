//! Soak: mixed traffic and config changes against two data-plane processes for half an hour
//! (not in the suite; the README's Reliability section has the command). Clients call tools
//! with live, revoked and new keys, on servers whose provisioning moves, through both pods,
//! while a change lands every half second. Every answer is checked as in the churn test, and
//! each pod's resident memory and open file descriptors are sampled: after warm-up they must
//! stay flat.
//!
//! `MCPGW_SOAK_MINUTES` shortens or lengthens the run (default 30).

use std::time::{Duration, Instant};

use mcpgw_e2e::churn::{BOUND, Churn};
use mcpgw_e2e::process::{open_fds, resident_kib};

/// Time between changes.
const PACE: Duration = Duration::from_millis(500);
/// Samples taken over the run.
const SAMPLES: u32 = 30;
/// The share of the run that is warm-up (not held to flatness).
const WARM_UP: f64 = 0.2;

/// One sample: when, and each pod's memory (MiB) and descriptors.
struct Sample {
    at: Duration,
    rss_mib: Vec<u64>,
    fds: Vec<usize>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs for 30 minutes: see the README's Reliability section"]
async fn mixed_traffic_and_changes_keep_memory_and_descriptors_flat() {
    let minutes: u64 = std::env::var("MCPGW_SOAK_MINUTES")
        .ok()
        .map(|m| {
            m.parse()
                .expect("MCPGW_SOAK_MINUTES is a number of minutes")
        })
        .unwrap_or(30);
    let run = Duration::from_secs(minutes * 60);
    let every = run / SAMPLES;
    let mut churn = Churn::start().await;
    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut next_sample = Duration::ZERO;
    let mut change = 0;
    while started.elapsed() < run {
        if started.elapsed() >= next_sample {
            let pids: Vec<u32> = churn.pods.iter().map(|p| p.pid().expect("a pod")).collect();
            let sample = Sample {
                at: started.elapsed(),
                rss_mib: pids
                    .iter()
                    .map(|&p| resident_kib(p).unwrap() / 1024)
                    .collect(),
                fds: pids.iter().map(|&p| open_fds(p).unwrap()).collect(),
            };
            println!(
                "{:>6.0} s  {change:>5} changes  RSS {:?} MiB  fds {:?}",
                sample.at.as_secs_f64(),
                sample.rss_mib,
                sample.fds
            );
            samples.push(sample);
            next_sample += every;
        }
        churn.change(change).await;
        change += 1;
        tokio::time::sleep(PACE).await;
    }
    churn.wait_converged().await;
    let revokes = churn.revokes;
    let report = churn.explain().await;
    println!(
        "{minutes} min: {change} changes ({revokes} revokes), {} calls, {} served, {} refused for \
         a revoked key, {} 5xx, {} unexplained; latest request served after its key's revoke \
         response started {:?} after it (bound {BOUND:?})",
        report.calls,
        report.served,
        report.refused_after_revoke,
        report.errors_5xx,
        report.unexplained.len(),
        report.worst_served_after_revoke
    );
    let shown = &report.unexplained[..report.unexplained.len().min(10)];
    assert!(report.unexplained.is_empty(), "{shown:#?}");
    let warm: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at.as_secs_f64() >= run.as_secs_f64() * WARM_UP)
        .collect();
    for pod in 0..2 {
        let rss: Vec<u64> = warm.iter().map(|s| s.rss_mib[pod]).collect();
        let fds: Vec<usize> = warm.iter().map(|s| s.fds[pod]).collect();
        let (lo, hi) = (rss.iter().min().unwrap(), rss.iter().max().unwrap());
        println!("pod {pod} after warm-up: RSS {lo}-{hi} MiB, fds {fds:?}");
        assert!(hi - lo <= 16, "pod {pod}'s memory grew: {rss:?}");
        let (lo, hi) = (fds.iter().min().unwrap(), fds.iter().max().unwrap());
        assert!(hi - lo <= 32, "pod {pod}'s descriptors grew: {fds:?}");
    }
}
