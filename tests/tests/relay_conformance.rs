//! The official MCP conformance server suite (`@modelcontextprotocol/conformance`, on Node 22)
//! run against an upstream directly and through the gateway: every scenario must have the same
//! outcome both ways, three gateway runs in a row — except `dns-rebinding-protection`, which the
//! gateway answers itself (Host/Origin policy) and must pass whatever the upstream does. The runner cannot send credentials, so it
//! talks to a credential-adding proxy in front of the gateway (`mcpgw_e2e::credential_proxy`).

use std::collections::BTreeMap;
use std::time::Duration;

use mcpgw_data_plane::testing::harness::Harness;
use mcpgw_e2e::{credential_proxy, peers};

const LIMIT: Duration = Duration::from_secs(300);

/// Scenario name to (passed, failed) checks, from the runner's summary.
type Outcome = BTreeMap<String, (u32, u32)>;

async fn conformance(url: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let runner = peers::npm_bin("conformance");
    let out_dir = dir.path().join("results");
    let args = [
        runner.to_str().unwrap(),
        "server",
        "--url",
        url,
        "-o",
        out_dir.to_str().unwrap(),
    ];
    let output = peers::run_to_end(&peers::node(), &args, dir.path(), LIMIT).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .split("=== SUMMARY ===")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary in:\n{stdout}"));
    let mut outcome = Outcome::new();
    for line in summary.lines() {
        let Some((name, counts)) = line.trim_start_matches(['✓', '✗', ' ']).split_once(": ")
        else {
            continue;
        };
        let mut numbers = counts
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        if name == "Total" {
            continue;
        }
        if let (Some(p), Some(f)) = (numbers.next(), numbers.next()) {
            outcome.insert(name.to_owned(), (p.parse().unwrap(), f.parse().unwrap()));
        }
    }
    assert!(
        outcome.len() > 20,
        "too few scenarios parsed from:\n{stdout}"
    );
    outcome
}

fn totals(outcome: &Outcome) -> (u32, u32) {
    outcome
        .values()
        .fold((0, 0), |(p, f), (a, b)| (p + a, f + b))
}

/// The scenario the gateway answers on its own.
const DNS_REBINDING: &str = "dns-rebinding-protection";

/// Runs the suite direct against `upstream` (a localhost URL), then three times through a
/// gateway; returns the direct outcome after checking every gateway run matches it.
async fn direct_and_through_gateway(upstream: &str) -> Outcome {
    let direct = conformance(upstream).await;
    let mut gw = Harness::start().await;
    gw.add_server("up", &upstream.replace("localhost", "127.0.0.1"));
    let (key, _) = gw.add_invoke_key();
    let proxy = credential_proxy::spawn(&format!("http://{}", gw.addr()), &key).await;
    let through = format!("http://localhost:{}/up/mcp", proxy.port());
    for run in 1..=3 {
        let outcome = conformance(&through).await;
        let differ: Vec<_> = direct
            .iter()
            .filter(|(name, counts)| *name != DNS_REBINDING && outcome.get(*name) != Some(counts))
            .map(|(name, counts)| {
                format!("{name}: direct {counts:?}, gateway {:?}", outcome.get(name))
            })
            .collect();
        assert!(
            differ.is_empty(),
            "gateway run {run} differs from direct:\n{}",
            differ.join("\n")
        );
        assert_eq!(
            outcome.get(DNS_REBINDING),
            Some(&(2, 0)),
            "the gateway's own Host/Origin checks"
        );
        let (p, f) = totals(&outcome);
        eprintln!(
            "conformance through the gateway, run {run}: {p} passed, {f} failed (the same as direct but for DNS rebinding, which the gateway passes)"
        );
    }
    gw.stop().await;
    direct
}

#[tokio::test]
async fn server_everything_has_the_same_conformance_outcome_through_the_gateway_as_direct() {
    mcpgw_data_plane::testing::within(async {
        let port = peers::free_port();
        let script = peers::tests_dir()
            .join(".peers/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
        let _child = peers::spawn(
            &peers::node(),
            &[script.to_str().unwrap(), "streamableHttp"],
            &[("PORT", &port.to_string())],
        );
        peers::wait_for_port(port, Duration::from_secs(30)).await;
        let direct = direct_and_through_gateway(&format!("http://localhost:{port}/mcp")).await;
        let (p, f) = totals(&direct);
        eprintln!("server-everything direct: {p} passed, {f} failed");
        assert!(p > 0);
    })
    .await;
}

#[tokio::test]
async fn the_rmcp_conformance_upstream_passes_direct_and_through_the_gateway() {
    mcpgw_data_plane::testing::within(async {
        let upstream = mcpgw_e2e::conformance_upstream::ConformanceUpstream::spawn().await;
        let direct = direct_and_through_gateway(&upstream.url()).await;
        let failing: Vec<_> = direct
            .iter()
            .filter(|(name, (_, f))| *f > 0 && *name != DNS_REBINDING)
            .collect();
        assert!(failing.is_empty(), "scenarios failing direct: {failing:?}");
        let (p, f) = totals(&direct);
        eprintln!("rmcp conformance upstream direct: {p} passed, {f} failed");
    })
    .await;
}
