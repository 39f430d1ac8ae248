//! The outbox relay loses nothing: a relay killed between publishing and moving its cursor is
//! resumed by the next one, and two control-plane processes on one PostgreSQL publish every
//! event in order between them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use mcpgw_control_plane::outbox::{OutboxRelay, RelaySettings};
use mcpgw_e2e::admin_api::invoke_key_request;
use mcpgw_e2e::control_plane::TestControlPlane;
use mcpgw_e2e::db::{Backend, TestDatabase};
use mcpgw_e2e::process::{ChildProcess, free_port, wait_for_http};
use mcpgw_shared::bus::{Bus, BusError, BusMessage, NatsBus};
use mcpgw_shared::secret::generate_base64_key;
use mcpgw_shared::wire::ConfigEvent;
use mcpgw_shared::{Credential, CredentialKind};
use reqwest::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Publishes config events while `budget` lasts (`usize::MAX`: unlimited), then hangs: a relay
/// that dies mid-batch, after the bus took some messages and before the cursor moved.
/// Heartbeats pass through.
struct StallingBus {
    inner: NatsBus,
    budget: AtomicUsize,
}

impl Bus for StallingBus {
    fn publish(&self, messages: Vec<BusMessage>) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            for message in messages {
                if message.message_id.is_some() && self.budget.fetch_sub(1, Ordering::SeqCst) == 0 {
                    self.budget.store(0, Ordering::SeqCst);
                    futures::future::pending::<()>().await;
                }
                self.inner.publish(vec![message]).await?;
            }
            Ok(())
        })
    }

    fn subscribe(
        &self,
        filter: String,
    ) -> BoxFuture<'_, Result<BoxStream<'static, BusMessage>, BusError>> {
        self.inner.subscribe(filter)
    }
}

async fn next_event(stream: &mut async_nats::Subscriber) -> ConfigEvent {
    let message = tokio::time::timeout(Duration::from_secs(15), stream.next())
        .await
        .expect("an event within 15 s")
        .expect("subscription open");
    serde_json::from_slice(&message.payload).expect("a wire event")
}

#[tokio::test]
async fn a_relay_killed_between_publish_and_cursor_loses_nothing() {
    let nats = mcpgw_e2e::nats::connect().await;
    let stalling = Arc::new(StallingBus {
        inner: NatsBus::new(nats.clone()),
        budget: AtomicUsize::new(usize::MAX),
    });
    let mut cp = TestControlPlane::start(Backend::Postgres, stalling.clone()).await;
    let workspace = cp.create_workspace("crash").await;
    let mut published = nats
        .subscribe(format!("mcpgw.default.config.{workspace}.api_key"))
        .await
        .unwrap();
    nats.flush().await.unwrap();
    // Let the relay publish everything so far, then only two more messages: it stalls mid-batch.
    let db = cp.db.clone();
    let mut cursor = db.published_seq().await.unwrap();
    for _ in 0..100 {
        if cursor == db.head().await.unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        cursor = db.published_seq().await.unwrap();
    }
    stalling.budget.store(2, Ordering::SeqCst);
    for n in 0..5 {
        cp.post_ok(
            "/v1/api-keys",
            invoke_key_request(&workspace, &format!("k{n}")),
            StatusCode::CREATED,
        )
        .await;
    }
    let head = db.head().await.unwrap();
    let mut before_crash = Vec::new();
    while before_crash.len() < 2 {
        before_crash.push(next_event(&mut published).await.seq);
    }
    // The relay is stuck inside publish: kill it there.
    cp.running.stop().await;
    let stuck_cursor = db.published_seq().await.unwrap();
    assert!(
        stuck_cursor < head,
        "the crash happened before the cursor reached the head"
    );

    let relay = OutboxRelay::new(
        db.clone(),
        Arc::new(NatsBus::new(nats.clone())),
        Arc::default(),
        RelaySettings::default(),
    );
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(relay.run(shutdown.clone()));
    let mut after_restart = Vec::new();
    while after_restart.last() != Some(&head) {
        after_restart.push(next_event(&mut published).await.seq);
    }
    // The cursor follows the publish.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while db.published_seq().await.unwrap() < head {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cursor reaches the head"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    task.await.unwrap();

    let expected: Vec<i64> = (stuck_cursor + 1..=head).collect();
    assert_eq!(
        after_restart, expected,
        "the new relay resumes from the cursor, in order"
    );
    let all: BTreeSet<i64> = before_crash.iter().chain(&after_restart).copied().collect();
    let first = *before_crash.iter().min().unwrap();
    assert_eq!(all, (first..=head).collect(), "nothing is lost");
}

#[tokio::test]
async fn two_control_plane_processes_publish_every_event_in_order() {
    let database = TestDatabase::postgres().await;
    let nats_url = mcpgw_e2e::nats::nats_url();
    let admin_key = Credential::generate(CredentialKind::ApiKey).expose();
    let secret_key = generate_base64_key();
    let start = |admin_port: u16| {
        ChildProcess::spawn(
            "mcpgw-control-plane",
            &["serve"],
            &[
                ("MCPGW_DATABASE_URL", database.url().to_owned()),
                ("MCPGW_NATS_URL", nats_url.clone()),
                ("MCPGW_ADMIN_ADDR", format!("127.0.0.1:{admin_port}")),
                ("MCPGW_GRPC_ADDR", format!("127.0.0.1:{}", free_port())),
                ("MCPGW_BOOTSTRAP_ADMIN_KEY", admin_key.clone()),
                ("MCPGW_SECRET_KEY", secret_key.clone()),
                ("RUST_LOG", "warn".to_owned()),
            ],
        )
    };
    let ports = [free_port(), free_port()];
    let mut first = start(ports[0]);
    wait_for_http(
        &format!("http://127.0.0.1:{}/healthz", ports[0]),
        Duration::from_secs(30),
    )
    .await;
    let _second = start(ports[1]);
    wait_for_http(
        &format!("http://127.0.0.1:{}/healthz", ports[1]),
        Duration::from_secs(30),
    )
    .await;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let post = |port: u16, path: &str, body: serde_json::Value| {
        http.post(format!("http://127.0.0.1:{port}{path}"))
            .bearer_auth(&admin_key)
            .json(&body)
            .send()
    };
    let created = post(ports[0], "/v1/workspaces", json!({"name": "replicated"}))
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let workspace = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let nats = mcpgw_e2e::nats::connect().await;
    let mut published = nats
        .subscribe(format!("mcpgw.default.config.{workspace}.>"))
        .await
        .unwrap();
    nats.flush().await.unwrap();

    const CHANGES: usize = 30;
    let mut killed = false;
    for n in 0..CHANGES {
        // Alternate between the replicas; halfway, kill the first (the leader: it started first).
        let port = if killed { ports[1] } else { ports[n % 2] };
        let response = post(
            port,
            "/v1/api-keys",
            invoke_key_request(&workspace, &format!("k{n}")),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        if n == CHANGES / 2 {
            first.kill().await;
            killed = true;
        }
    }

    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    let mut duplicates = 0;
    while seen.len() < CHANGES {
        let event = next_event(&mut published).await;
        if event.change == "WorkspaceCreated" {
            continue;
        }
        if !seen.insert(event.seq) {
            duplicates += 1;
            continue;
        }
        order.push(event.seq);
    }
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(order, sorted, "first deliveries arrive in sequence order");
    assert_eq!(seen.len(), CHANGES, "every change is published");
    assert!(
        duplicates <= CHANGES,
        "duplicates only from the failover: {duplicates}"
    );
}
