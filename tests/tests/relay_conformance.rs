//! The official MCP conformance server suite (`@modelcontextprotocol/conformance`, on Node 22)
//! run against an upstream directly and through the gateway, in both protocol eras: 0.1.16 for
//! the session era (2025-11-25) and 0.2.0-alpha.12 with `--requirements 2026-07-28` for the
//! stateless one. Every scenario must have the same outcome both ways, in five gateway runs in a
//! row with the machine idle and five with every core busy (a CPU hog, as a large build beside
//! it would be) — except `dns-rebinding-protection`, which the gateway answers itself
//! (Host/Origin policy) and must pass whatever the upstream does. The runner cannot send
//! credentials, so it talks to a credential-adding proxy in front of the gateway
//! (`mcpgw_e2e::credential_proxy`).

use std::collections::BTreeMap;
use std::time::Duration;

use mcpgw_data_plane::testing::harness::Harness;
use mcpgw_e2e::cpu_hog::CpuHog;
use mcpgw_e2e::{credential_proxy, peers};

const LIMIT: Duration = Duration::from_secs(300);

/// Scenario name to (passed, failed) checks, from the runner's summary.
type Outcome = BTreeMap<String, (u32, u32)>;

/// One run: its outcome, and the folder of its per-check results.
struct Run {
    outcome: Outcome,
    results: tempfile::TempDir,
}

impl Run {
    /// The failed checks of `scenario`, as the runner recorded them (for failure messages).
    fn failures(&self, scenario: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.results.path().join("results")) else {
            return vec![];
        };
        entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("server-{scenario}-"))
            })
            .filter_map(|e| std::fs::read_to_string(e.path().join("checks.json")).ok())
            .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .flat_map(|checks| checks.as_array().cloned().unwrap_or_default())
            .filter(|c| c["status"] == "FAILURE")
            .map(|c| format!("{} {}: {}", c["id"], c["name"], c["errorMessage"]))
            .collect()
    }
}

/// Which suite.
#[derive(Clone, Copy, Debug)]
enum Era {
    /// 0.1.16: the session era (2025-11-25).
    Sessions,
    /// 0.2.0-alpha.12 with `--requirements 2026-07-28`.
    Stateless,
}

async fn conformance(era: Era, url: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("results");
    let runner = match era {
        Era::Sessions => peers::npm_file("@modelcontextprotocol/conformance/dist/index.js"),
        Era::Stateless => peers::npm_file("conformance-next/dist/index.js"),
    };
    let mut args = vec![
        runner.to_str().unwrap().to_owned(),
        "server".into(),
        "--url".into(),
        url.into(),
        "-o".into(),
        out_dir.to_str().unwrap().into(),
    ];
    if let Era::Stateless = era {
        args.extend(["--requirements".into(), "2026-07-28".into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = peers::run_to_end(&peers::node(), &args, dir.path(), LIMIT).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .split("=== SUMMARY ===")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary in:\n{stdout}"));
    let mut outcome = Outcome::new();
    for line in summary.lines() {
        if line.starts_with("Total") {
            // What follows ("Not scored for …") repeats scenarios already listed.
            break;
        }
        let Some((name, counts)) = line.trim_start_matches(['✓', '✗', ' ']).split_once(": ")
        else {
            continue;
        };
        let mut numbers = counts
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        if let (Some(p), Some(f)) = (numbers.next(), numbers.next()) {
            outcome.insert(name.to_owned(), (p.parse().unwrap(), f.parse().unwrap()));
        }
    }
    assert!(
        outcome.len() > 20,
        "too few scenarios parsed from:\n{stdout}"
    );
    Run {
        outcome,
        results: dir,
    }
}

fn totals(outcome: &Outcome) -> (u32, u32) {
    outcome
        .values()
        .fold((0, 0), |(p, f), (a, b)| (p + a, f + b))
}

/// The scenario the gateway answers on its own.
const DNS_REBINDING: &str = "dns-rebinding-protection";

/// Runs the suite of `era` direct against `upstream` (a localhost URL), then `runs` times through
/// a gateway idle and `runs` times with a CPU hog; returns the direct outcome after checking
/// every gateway run matches it.
async fn direct_and_through_gateway(era: Era, upstream: &str, runs: usize) -> Outcome {
    let direct_run = conformance(era, upstream).await;
    let direct = &direct_run.outcome;
    let mut gw = Harness::start().await;
    gw.add_server("up", &upstream.replace("localhost", "127.0.0.1"));
    let (key, _) = gw.add_invoke_key();
    let proxy = credential_proxy::spawn(&format!("http://{}", gw.addr()), &key).await;
    let through = format!("http://localhost:{}/up/mcp", proxy.port());
    for run in 1..=2 * runs {
        let _hog = (run > runs).then(CpuHog::on_every_core);
        let load = if run > runs {
            "with every core busy"
        } else {
            "idle"
        };
        let run_through = conformance(era, &through).await;
        let outcome = &run_through.outcome;
        let differ: Vec<_> = direct
            .iter()
            .filter(|(name, counts)| *name != DNS_REBINDING && outcome.get(*name) != Some(counts))
            .map(|(name, counts)| {
                format!(
                    "{name}: direct {counts:?} failing {:?}, gateway {:?} failing {:?}",
                    direct_run.failures(name),
                    outcome.get(name),
                    run_through.failures(name)
                )
            })
            .collect();
        assert!(
            differ.is_empty(),
            "{era:?} gateway run {run} ({load}) differs from direct:\n{}",
            differ.join("\n")
        );
        assert_eq!(
            outcome.get(DNS_REBINDING),
            Some(&(2, 0)),
            "the gateway's own Host/Origin checks"
        );
        let (p, f) = totals(outcome);
        eprintln!(
            "{era:?} conformance through the gateway, run {run} ({load}): {p} passed, {f} failed (the same as direct but for DNS rebinding, which the gateway passes)"
        );
    }
    gw.stop().await;
    direct_run.outcome
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
        let direct =
            direct_and_through_gateway(Era::Sessions, &format!("http://localhost:{port}/mcp"), 3)
                .await;
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
        let direct = direct_and_through_gateway(Era::Sessions, &upstream.url(), 5).await;
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

#[tokio::test]
async fn the_stateless_era_suite_has_the_same_outcome_through_the_gateway_as_direct() {
    mcpgw_data_plane::testing::within(async {
        let upstream = mcpgw_e2e::conformance_upstream::ConformanceUpstream::spawn().await;
        let direct = direct_and_through_gateway(Era::Stateless, &upstream.url(), 5).await;
        let stateless = direct.get("server-stateless").copied().unwrap_or_default();
        assert!(
            stateless.0 > 0,
            "the server-stateless scenario ran: {direct:?}"
        );
        let (p, f) = totals(&direct);
        eprintln!(
            "rmcp conformance upstream, 2026-07-28 requirements, direct: {p} passed, {f} failed"
        );
    })
    .await;
}
