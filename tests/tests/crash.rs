//! The control plane killed (`kill -9`) at random points while a client writes, many times over,
//! on PostgreSQL: every acknowledged write is in the event log exactly once, the read models
//! equal a rebuild from the log, every event reaches NATS, and a data plane converges to the
//! head after each restart. Prints the worst convergence time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use mcpgw_control_plane::store::Database;
use mcpgw_e2e::fleet::Fleet;
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_shared::wire::ConfigEvent;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Kill-and-restart rounds.
const TRIALS: u64 = 100;

/// A small deterministic generator (xorshift64*): the kill points repeat run after run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_hundred_kills() {
    let nats = PrivateNats::start().await;
    let bus = async_nats::connect(nats.url())
        .await
        .expect("connect to NATS");
    let mut published = bus
        .subscribe("mcpgw.default.config.>")
        .await
        .expect("subscribe to config events");
    bus.flush().await.expect("flush the subscription");
    let seen: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let collector = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(message) = published.next().await {
                if let Ok(event) = serde_json::from_slice::<ConfigEvent>(&message.payload) {
                    seen.lock().unwrap().insert(event.seq);
                }
            }
        })
    };
    let mut fleet = Fleet::start(&nats.url()).await;
    let token = fleet.data_plane_token(None).await;
    let pod = fleet.data_plane(&token, &[]).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut rng = Seeded(0x9E37_79B9_7F4A_7C15);
    let mut acknowledged = Vec::new();
    let mut worst = Duration::ZERO;
    let mut written = 0u64;
    for trial in 0..TRIALS {
        // Writes in flight when the kill lands: two writers, each creating workspaces.
        let kill_after = Duration::from_millis(20 + rng.below(300));
        let writers: Vec<_> = (0..2)
            .map(|writer| {
                let (http, url, key) = (http.clone(), fleet.admin_url(), fleet.admin_key.clone());
                let first = written + writer * 1000;
                tokio::spawn(async move {
                    let mut done = Vec::new();
                    for n in first.. {
                        let name = format!("trial-{trial}-{n}");
                        let answer = http
                            .post(format!("{url}/v1/workspaces"))
                            .bearer_auth(&key)
                            .json(&json!({"name": name}))
                            .send()
                            .await;
                        match answer {
                            Ok(answer) if answer.status() == StatusCode::CREATED => done.push(name),
                            _ => break,
                        }
                    }
                    done
                })
            })
            .collect();
        tokio::time::sleep(kill_after).await;
        fleet.stop_control_plane().await;
        for writer in writers {
            let done = writer.await.unwrap();
            written += done.len() as u64 + 1;
            acknowledged.extend(done);
        }
        fleet.start_control_plane().await;
        let restarted = tokio::time::Instant::now();
        let head = fleet.head().await;
        pod.wait_applied(head, Duration::from_secs(20)).await;
        worst = worst.max(restarted.elapsed());
    }

    // Every acknowledged write is in the log exactly once.
    let mut created: BTreeMap<String, usize> = BTreeMap::new();
    let mut after = 0;
    loop {
        let (status, page) = fleet
            .admin(
                Method::GET,
                &format!("/v1/events?after={after}&limit=1000"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        for event in events {
            if event["type"] == "WorkspaceCreated" {
                let name = event["data"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                *created.entry(name).or_default() += 1;
            }
            after = event["seq"].as_i64().unwrap();
        }
    }
    assert!(
        acknowledged.len() as u64 >= TRIALS,
        "writes were acknowledged: {}",
        acknowledged.len()
    );
    for name in &acknowledged {
        assert_eq!(created.get(name), Some(&1), "`{name}` was acknowledged");
    }
    assert!(
        created.values().all(|&n| n == 1),
        "no workspace was created twice"
    );
    // The read models equal a rebuild from the log.
    let db = Database::connect(fleet.database_url())
        .await
        .expect("connect to the fleet's database");
    let live = db.reader().await.unwrap().dump_projections().await.unwrap();
    db.rebuild_projections()
        .await
        .expect("rebuild the read models");
    let rebuilt = db.reader().await.unwrap().dump_projections().await.unwrap();
    assert_eq!(
        live, rebuilt,
        "the read models equal a rebuild from the log"
    );
    // Every event reached NATS (at least once).
    let head = fleet.head().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let missing: Vec<i64> = {
            let seen = seen.lock().unwrap();
            (1..=head).filter(|seq| !seen.contains(seq)).collect()
        };
        if missing.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "events never published: {:?}",
            &missing[..missing.len().min(20)]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    collector.abort();
    let listed: Value = fleet.admin(Method::GET, "/v1/workspaces", None).await.1;
    eprintln!(
        "{TRIALS} kills: {} writes acknowledged, {} events, {} workspaces; worst convergence of the data plane after a restart {worst:?}",
        acknowledged.len(),
        head,
        listed["workspaces"].as_array().map_or(0, Vec::len)
    );
}
