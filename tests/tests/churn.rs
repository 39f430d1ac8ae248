//! Config churn under load: 1,000 changes (server edits, key creations, key revocations,
//! provisioning changes) made through the admin API while clients call `tools/call` on two
//! data-plane processes without pause. Every answer is checked against the changes:
//!
//! - no 5xx at all (none of these changes explains one);
//! - a 401 only for a key whose revoke was sent before the request (or created too recently to
//!   have reached the pod), a 403 only on the server whose provisioning changes;
//! - no request started later than a key's revoke response plus the propagation bound is
//!   served with that key;
//! - the pods' memory is flat after warm-up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpgw_data_plane::demo_upstream::DemoUpstream;
use mcpgw_e2e::admin_api::{invoke_key_request, revoke_path};
use mcpgw_e2e::fleet::{DataPlaneProcess, Fleet};
use mcpgw_e2e::mcp_client::{McpClient, VERSION};
use mcpgw_e2e::nats::PrivateNats;
use mcpgw_e2e::process::resident_kib;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SOON: Duration = Duration::from_secs(20);
/// How many changes the test makes.
const CHANGES: usize = 1_000;
/// Concurrent clients.
const CLIENTS: usize = 8;
/// The propagation bound the fleet promises under this load: a revoke is enforced on every
/// pod this long after the admin API answered it (measured in the fleet tests at a few
/// milliseconds; the bound leaves room for two busy cores).
const BOUND: Duration = Duration::from_secs(1);
/// Keys kept live in the home workspace at all times.
const LIVE_KEYS: usize = 6;

/// A key of the pool the clients draw from.
struct Key {
    secret: String,
    /// Whether it belongs to the workspace the `shared` server is provisioned to and from.
    guest: bool,
    created: Instant,
    /// When the revoke was sent: from then on the key may be refused.
    revoking: Option<Instant>,
    /// When the admin API answered the revoke: from then plus [`BOUND`] it must be refused.
    revoked: Option<Instant>,
}

/// One call a client made.
struct Call {
    key: usize,
    server: &'static str,
    started: Instant,
    status: StatusCode,
    body: Value,
}

#[derive(Default)]
struct Pool {
    keys: Vec<Key>,
}

impl Pool {
    /// A key to use: mostly a live one, often one revoked moments ago (to catch a pod that
    /// still serves it).
    fn pick(&self, n: usize) -> usize {
        let revoked: Vec<usize> = (0..self.keys.len())
            .filter(|&i| self.keys[i].revoked.is_some())
            .collect();
        if n.is_multiple_of(3) && !revoked.is_empty() {
            return revoked[revoked.len() - 1 - n / 3 % revoked.len().min(4)];
        }
        let live: Vec<usize> = (0..self.keys.len())
            .filter(|&i| self.keys[i].revoked.is_none())
            .collect();
        live[n % live.len()]
    }
}

fn echo(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "echo", "arguments": {"message": "churn"}}})
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {},
        "clientInfo": {"name": "churn", "version": "1"}}})
}

/// One client: calls `echo` (on `demo`, and with guest keys on `shared`) through both pods in
/// turn until `stop`, opening sessions as it needs them.
async fn client(
    number: usize,
    pods: Vec<String>,
    pool: Arc<Mutex<Pool>>,
    stop: Arc<AtomicBool>,
) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut sessions: HashMap<(usize, usize, &'static str), String> = HashMap::new();
    let base = McpClient::new(pods[0].clone(), "");
    let mut n = number;
    while !stop.load(Ordering::Relaxed) {
        n += CLIENTS;
        let (key, secret, guest) = {
            let pool = pool.lock().unwrap();
            let key = pool.pick(n);
            (key, pool.keys[key].secret.clone(), pool.keys[key].guest)
        };
        let pod = n / CLIENTS % pods.len();
        let server = if guest { "shared" } else { "demo" };
        let client = base
            .with_url(format!("{}/{server}/mcp", pods[pod]))
            .with_key(&secret);
        let started = Instant::now();
        let session = match sessions.get(&(key, pod, server)) {
            Some(session) => session.clone(),
            None => {
                let answer = client.post(initialize(), None).await;
                match answer.session {
                    Some(session) if answer.status == StatusCode::OK => {
                        client
                            .post(
                                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                                Some(&session),
                            )
                            .await;
                        sessions.insert((key, pod, server), session.clone());
                        session
                    }
                    _ => {
                        calls.push(Call {
                            key,
                            server,
                            started,
                            status: answer.status,
                            body: answer.body,
                        });
                        continue;
                    }
                }
            }
        };
        let started = Instant::now();
        let answer = client.post(echo(n as u64), Some(&session)).await;
        if answer.status != StatusCode::OK {
            sessions.remove(&(key, pod, server));
        }
        calls.push(Call {
            key,
            server,
            started,
            status: answer.status,
            body: answer.body,
        });
    }
    calls
}

async fn new_key(fleet: &Fleet, workspace: &str, name: &str) -> (String, String) {
    let key = fleet
        .create("/v1/api-keys", invoke_key_request(workspace, name))
        .await;
    (
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    )
}

async fn patch(fleet: &Fleet, server: &str, body: Value) {
    let (status, answer) = fleet
        .admin(Method::PATCH, &format!("/v1/servers/{server}"), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

fn rss_mib(pods: &[DataPlaneProcess]) -> Vec<u64> {
    pods.iter()
        .map(|p| p.pid().and_then(resident_kib).expect("a running pod") / 1024)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_changes_under_load_explain_every_error_and_no_revoked_key_is_served() {
    let nats = PrivateNats::start().await;
    let fleet = Fleet::start(&nats.url()).await;
    let upstream = DemoUpstream::spawn().await.expect("demo upstream");
    let home = fleet.workspace("home").await;
    let guests = fleet.workspace("guests").await;
    let server = |slug: &str| {
        json!({"workspace_id": home, "slug": slug, "name": slug,
               "url": upstream.url(), "auth": {"type": "none"}})
    };
    let demo = fleet.create("/v1/servers", server("demo")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shared = fleet.create("/v1/servers", server("shared")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    patch(&fleet, &shared, json!({"provisioned_workspaces": [guests]})).await;

    let pool = Arc::new(Mutex::new(Pool::default()));
    let mut ids = Vec::new();
    for (i, workspace) in std::iter::repeat_n(&home, LIVE_KEYS)
        .chain(std::iter::repeat_n(&guests, 2))
        .enumerate()
    {
        let (id, secret) = new_key(&fleet, workspace, &format!("start {i}")).await;
        ids.push(id);
        pool.lock().unwrap().keys.push(Key {
            secret,
            guest: workspace == &guests,
            created: Instant::now() - BOUND,
            revoking: None,
            revoked: None,
        });
    }
    let token = fleet.data_plane_token(None).await;
    let pods = vec![
        fleet.data_plane(&token, &[]).await,
        fleet.data_plane(&token, &[]).await,
    ];
    for pod in &pods {
        pod.wait_applied(fleet.head().await, SOON).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = pods.iter().map(DataPlaneProcess::url).collect();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(client(i, urls.clone(), pool.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The changes, in a fixed cycle: create a key, edit a server, revoke the oldest live key,
    // move the `shared` server's provisioning.
    let started = Instant::now();
    let mut memory = Vec::new();
    let mut provisioned = true;
    let mut revokes = 0;
    for change in 0..CHANGES {
        if change == CHANGES / 10 {
            memory.push(rss_mib(&pods));
        }
        match change % 4 {
            0 => {
                let (id, secret) = new_key(&fleet, &home, &format!("key {change}")).await;
                ids.push(id);
                pool.lock().unwrap().keys.push(Key {
                    secret,
                    guest: false,
                    created: Instant::now(),
                    revoking: None,
                    revoked: None,
                });
            }
            1 => {
                let edit = match change % 8 {
                    1 => json!({"name": format!("demo {change}")}),
                    _ => json!({"tools": {"deny": [format!("not-echo-{change}")]}}),
                };
                patch(&fleet, &demo, edit).await;
            }
            2 => {
                let oldest = {
                    let pool = pool.lock().unwrap();
                    (0..pool.keys.len())
                        .find(|&i| pool.keys[i].revoked.is_none() && !pool.keys[i].guest)
                        .expect("a live key")
                };
                pool.lock().unwrap().keys[oldest].revoking = Some(Instant::now());
                let (status, body) = fleet
                    .admin(Method::POST, &revoke_path(&ids[oldest]), Some(json!({})))
                    .await;
                assert!(status.is_success(), "{body}");
                pool.lock().unwrap().keys[oldest].revoked = Some(Instant::now());
                revokes += 1;
            }
            _ => {
                provisioned = !provisioned;
                let to = if provisioned {
                    json!([guests])
                } else {
                    json!([])
                };
                patch(&fleet, &shared, json!({"provisioned_workspaces": to})).await;
            }
        }
    }
    let took = started.elapsed();
    for pod in &pods {
        pod.wait_applied(fleet.head().await, SOON).await;
    }
    memory.push(rss_mib(&pods));
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut calls = Vec::new();
    for client in clients {
        calls.extend(client.await.expect("a client"));
    }

    // Every answer, explained.
    let pool = pool.lock().unwrap();
    let mut served = 0;
    let mut refused_after_revoke = 0;
    let mut worst_served_after_revoke = None::<Duration>;
    let mut unexplained = Vec::new();
    for call in &calls {
        let key = &pool.keys[call.key];
        let reason = call.body["error"]["data"]["reason"].as_str().unwrap_or("");
        let revoked_before = key.revoked.filter(|at| *at <= call.started);
        let revoking_before = key.revoking.filter(|at| *at <= call.started);
        match call.status {
            StatusCode::OK => {
                served += 1;
                if let Some(at) = revoked_before {
                    let late = call.started - at;
                    worst_served_after_revoke = worst_served_after_revoke.max(Some(late));
                    if late > BOUND {
                        unexplained.push(format!(
                            "served {late:?} after its key was revoked: {}",
                            call.body
                        ));
                    }
                }
            }
            StatusCode::UNAUTHORIZED
                if revoking_before.is_some() || call.started < key.created + BOUND =>
            {
                refused_after_revoke += usize::from(revoking_before.is_some());
            }
            StatusCode::FORBIDDEN if call.server == "shared" && reason == "not_provisioned" => {}
            status => unexplained.push(format!("{status} on {}: {}", call.server, call.body)),
        }
    }
    let errors_5xx = calls.iter().filter(|c| c.status.is_server_error()).count();
    println!(
        "{CHANGES} changes ({revokes} revokes) in {:.1} s under load: {} calls, {served} served, \
         {refused_after_revoke} refused for a revoked key, {errors_5xx} 5xx, {} unexplained",
        took.as_secs_f64(),
        calls.len(),
        unexplained.len()
    );
    println!(
        "latest start of a request served after its key's revoke response: {worst_served_after_revoke:?} (bound {BOUND:?})"
    );
    println!(
        "pod memory (MiB) after {} changes: {:?}, after all: {:?}",
        CHANGES / 10,
        memory[0],
        memory[1]
    );
    assert!(
        unexplained.is_empty(),
        "{:#?}",
        &unexplained[..unexplained.len().min(10)]
    );
    assert_eq!(errors_5xx, 0);
    assert!(
        refused_after_revoke > 0,
        "the clients never tried a revoked key"
    );
    assert!(served > CHANGES, "too little load: {served} calls served");
    for (warm, end) in memory[0].iter().zip(&memory[1]) {
        assert!(
            *end < warm + 32,
            "memory grew from {warm} MiB to {end} MiB over the changes"
        );
    }
}
