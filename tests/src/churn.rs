//! Config churn under load, for the churn test and the soak: a fleet of two data-plane
//! processes, clients calling `tools/call` through both without pause, and a cycle of changes
//! (key creations and revocations, server edits, provisioning moves). Every call is recorded,
//! and [`Churn::explain`] checks each answer against the changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpgw_data_plane::demo_upstream::DemoUpstream;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin_api::{invoke_key_request, revoke_path};
use crate::fleet::{DataPlaneProcess, Fleet};
use crate::mcp_client::{McpClient, VERSION};
use crate::nats::PrivateNats;

/// The propagation bound the fleet promises under load: a revoke is enforced on every pod
/// this long after the admin API answered it (measured in the fleet tests at a few
/// milliseconds; the bound leaves room for two busy cores).
pub const BOUND: Duration = Duration::from_secs(1);
/// Concurrent clients.
const CLIENTS: usize = 8;
/// Keys kept live in the home workspace at the start.
const LIVE_KEYS: usize = 6;
const SOON: Duration = Duration::from_secs(20);

/// A key of the pool the clients draw from.
struct Key {
    id: String,
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

/// What the answers showed.
#[derive(Debug)]
pub struct Report {
    /// Calls made.
    pub calls: usize,
    /// Calls answered 200.
    pub served: usize,
    /// Calls refused because their key's revoke had been sent.
    pub refused_after_revoke: usize,
    /// 5xx answers.
    pub errors_5xx: usize,
    /// The latest start, after its key's revoke response, of a request that was served.
    pub worst_served_after_revoke: Option<Duration>,
    /// Answers no change explains.
    pub unexplained: Vec<String>,
}

/// The fleet under churn.
pub struct Churn {
    _nats: PrivateNats,
    _upstream: DemoUpstream,
    /// The control plane.
    pub fleet: Fleet,
    /// The two data planes.
    pub pods: Vec<DataPlaneProcess>,
    home: String,
    guests: String,
    demo: String,
    shared: String,
    provisioned: bool,
    pool: Arc<Mutex<Pool>>,
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Vec<Call>>>,
    /// Revokes made so far.
    pub revokes: usize,
}

impl Churn {
    /// Starts the fleet and the clients.
    pub async fn start() -> Self {
        let nats = PrivateNats::start().await;
        let fleet = Fleet::start(&nats.url()).await;
        let upstream = DemoUpstream::spawn().await.expect("demo upstream");
        let home = fleet.workspace("home").await;
        let guests = fleet.workspace("guests").await;
        let server = |slug: &str| {
            json!({"workspace_id": home, "slug": slug, "name": slug,
                   "url": upstream.url(), "auth": {"type": "none"}})
        };
        let id = |v: Value| v["id"].as_str().unwrap().to_owned();
        let demo = id(fleet.create("/v1/servers", server("demo")).await);
        let shared = id(fleet.create("/v1/servers", server("shared")).await);
        patch(&fleet, &shared, json!({"provisioned_workspaces": [guests]})).await;
        let token = fleet.data_plane_token(None).await;
        let pods = vec![
            fleet.data_plane(&token, &[]).await,
            fleet.data_plane(&token, &[]).await,
        ];
        let mut churn = Self {
            _nats: nats,
            _upstream: upstream,
            fleet,
            pods,
            home,
            guests,
            demo,
            shared,
            provisioned: true,
            pool: Arc::default(),
            stop: Arc::default(),
            clients: Vec::new(),
            revokes: 0,
        };
        for i in 0..LIVE_KEYS + 2 {
            churn.add_key(i >= LIVE_KEYS, &format!("start {i}")).await;
        }
        for key in &mut churn.pool.lock().unwrap().keys {
            key.created -= BOUND;
        }
        churn.wait_converged().await;
        let urls: Vec<String> = churn.pods.iter().map(DataPlaneProcess::url).collect();
        churn.clients = (0..CLIENTS)
            .map(|i| {
                let (pool, stop) = (churn.pool.clone(), churn.stop.clone());
                tokio::spawn(client(i, urls.clone(), pool, stop))
            })
            .collect();
        churn
    }

    /// Waits until both pods applied the control plane's head.
    pub async fn wait_converged(&self) {
        let head = self.fleet.head().await;
        for pod in &self.pods {
            pod.wait_applied(head, SOON).await;
        }
    }

    async fn add_key(&mut self, guest: bool, name: &str) {
        let workspace = if guest { &self.guests } else { &self.home };
        let key = self
            .fleet
            .create("/v1/api-keys", invoke_key_request(workspace, name))
            .await;
        self.pool.lock().unwrap().keys.push(Key {
            id: key["id"].as_str().unwrap().to_owned(),
            secret: key["key"].as_str().unwrap().to_owned(),
            guest,
            created: Instant::now(),
            revoking: None,
            revoked: None,
        });
    }

    /// Makes change number `n` of the cycle: create a key, edit a server (its name or its
    /// tool policy), revoke the oldest live key, move the `shared` server's provisioning.
    pub async fn change(&mut self, n: usize) {
        match n % 4 {
            0 => self.add_key(false, &format!("key {n}")).await,
            1 => {
                let edit = match n % 8 {
                    1 => json!({"name": format!("demo {n}")}),
                    _ => json!({"tools": {"deny": [format!("not-echo-{n}")]}}),
                };
                patch(&self.fleet, &self.demo, edit).await;
            }
            2 => {
                let (oldest, id) = {
                    let mut pool = self.pool.lock().unwrap();
                    let oldest = (0..pool.keys.len())
                        .find(|&i| pool.keys[i].revoked.is_none() && !pool.keys[i].guest)
                        .expect("a live key");
                    pool.keys[oldest].revoking = Some(Instant::now());
                    (oldest, pool.keys[oldest].id.clone())
                };
                let (status, body) = self
                    .fleet
                    .admin(Method::POST, &revoke_path(&id), Some(json!({})))
                    .await;
                assert!(status.is_success(), "{body}");
                self.pool.lock().unwrap().keys[oldest].revoked = Some(Instant::now());
                self.revokes += 1;
            }
            _ => {
                self.provisioned = !self.provisioned;
                let to = if self.provisioned {
                    json!([self.guests])
                } else {
                    json!([])
                };
                patch(
                    &self.fleet,
                    &self.shared,
                    json!({"provisioned_workspaces": to}),
                )
                .await;
            }
        }
    }

    /// Stops the clients and checks every answer against the changes.
    pub async fn explain(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        let mut calls = Vec::new();
        for client in self.clients {
            calls.extend(client.await.expect("a client"));
        }
        let pool = self.pool.lock().unwrap();
        let mut report = Report {
            calls: calls.len(),
            served: 0,
            refused_after_revoke: 0,
            errors_5xx: calls.iter().filter(|c| c.status.is_server_error()).count(),
            worst_served_after_revoke: None,
            unexplained: Vec::new(),
        };
        for call in &calls {
            let key = &pool.keys[call.key];
            let reason = call.body["error"]["data"]["reason"].as_str().unwrap_or("");
            let revoked_before = key.revoked.filter(|at| *at <= call.started);
            let revoking_before = key.revoking.filter(|at| *at <= call.started);
            match call.status {
                StatusCode::OK => {
                    report.served += 1;
                    if let Some(at) = revoked_before {
                        let late = call.started - at;
                        report.worst_served_after_revoke =
                            report.worst_served_after_revoke.max(Some(late));
                        if late > BOUND {
                            report
                                .unexplained
                                .push(format!("served {late:?} after its key was revoked"));
                        }
                    }
                }
                StatusCode::UNAUTHORIZED
                    if revoking_before.is_some() || call.started < key.created + BOUND =>
                {
                    report.refused_after_revoke += usize::from(revoking_before.is_some());
                }
                StatusCode::FORBIDDEN if call.server == "shared" && reason == "not_provisioned" => {
                }
                status => report
                    .unexplained
                    .push(format!("{status} on {}: {}", call.server, call.body)),
            }
        }
        report
    }
}

async fn patch(fleet: &Fleet, server: &str, body: Value) {
    let (status, answer) = fleet
        .admin(Method::PATCH, &format!("/v1/servers/{server}"), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
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
    let base = McpClient::new(pods[0].clone(), "");
    let mut calls = Vec::new();
    let mut sessions: HashMap<(usize, usize, &'static str), String> = HashMap::new();
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
                        let initialized =
                            json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
                        client.post(initialized, Some(&session)).await;
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
        let body = if answer.status == StatusCode::OK {
            // Only refusals are looked at; a long run keeps no answers it does not need.
            Value::Null
        } else {
            sessions.remove(&(key, pod, server));
            answer.body
        };
        calls.push(Call {
            key,
            server,
            started,
            status: answer.status,
            body,
        });
    }
    calls
}
