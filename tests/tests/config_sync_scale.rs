//! A data plane syncs a snapshot of 10k servers and 100k keys from a real control plane: the
//! gRPC message limit must let it through. The history is written to the event log in bulk and
//! the read models rebuilt from it (`rebuild-projections`), since 110k admin-API calls would
//! take minutes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use mcpgw_control_plane::domain::DomainEvent;
use mcpgw_control_plane::domain::api_key::ApiKeyEvent;
use mcpgw_control_plane::domain::server::ServerEvent;
use mcpgw_control_plane::domain::workspace::WorkspaceEvent;
use mcpgw_data_plane::app::{RunningDataPlane, SyncSource};
use mcpgw_data_plane::config::CommaList;
use mcpgw_data_plane::sync::{SyncLink, SyncSettings};
use mcpgw_e2e::control_plane::TestControlPlane;
use mcpgw_e2e::db::Backend;
use mcpgw_shared::bus::InProcessBus;
use mcpgw_shared::model::{KeyType, Permission, ToolFilter, UpstreamAuth};
use mcpgw_shared::secret::{Keyring, generate_base64_key};
use mcpgw_shared::{ApiKeyId, Redacted, ServerId, Slug, StreamId, WorkspaceId};
use reqwest::StatusCode;
use serde_json::json;

const SERVERS: usize = 10_000;
const KEYS: usize = 100_000;

/// One stored event: its stream and the event.
type Row = (StreamId, DomainEvent);

fn history(workspace: WorkspaceId) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::with_capacity(1 + SERVERS + KEYS);
    rows.push((
        workspace.stream(),
        WorkspaceEvent::Created {
            name: "scale".into(),
        }
        .into(),
    ));
    for n in 0..SERVERS {
        rows.push((
            ServerId::new().stream(),
            ServerEvent::Registered {
                workspace_id: workspace,
                slug: Slug::parse(&format!("server-{n}")).unwrap(),
                name: format!("Server {n}"),
                description: "a server of the scale test".into(),
                url: format!("https://mcp-{n}.example.com/mcp"),
                auth: UpstreamAuth::None,
                tools: ToolFilter::default(),
                enabled: true,
                request_logging: Default::default(),
                rate_limits: Vec::new(),
                virtual_server: None,
                identity_forwarding: Default::default(),
            }
            .into(),
        ));
    }
    for n in 0..KEYS {
        rows.push((
            ApiKeyId::generate().stream(),
            ApiKeyEvent::Issued {
                workspace_id: Some(workspace),
                name: format!("key {n}"),
                key_type: KeyType::Service,
                user_id: None,
                permissions: vec![Permission::McpInvoke],
                expires_at: None,
                secret_hash: [n as u8; 32],
            }
            .into(),
        ));
    }
    rows
}

/// Writes `rows` as the first events of the log (each the first of its stream), in bulk.
async fn write_log(
    db: &mcpgw_control_plane::store::Database,
    rows: &[Row],
    workspace: WorkspaceId,
) {
    // The write lock at once, as every append takes it (SQLite).
    let mut tx = db.pool().begin_with("BEGIN IMMEDIATE").await.unwrap();
    let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let head: i64 = sqlx::query_scalar("SELECT seq FROM log_head WHERE id = 1")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    for (chunk_index, chunk) in rows.chunks(500).enumerate() {
        let first = head + 1 + (chunk_index * 500) as i64;
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "(${}, ${}, 1, ${}, 1, ${}, 'system', ${})",
                    i * 5 + 1,
                    i * 5 + 2,
                    i * 5 + 3,
                    i * 5 + 4,
                    i * 5 + 5
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO events (seq, stream_id, stream_version, event_type, schema_version, payload, actor, recorded_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (offset, (stream, event)) in chunk.iter().enumerate() {
            query = query
                .bind(first + offset as i64)
                .bind(stream.to_string())
                .bind(event.event_type())
                .bind(event.payload().to_string())
                .bind(at.clone());
        }
        query.execute(&mut *tx).await.unwrap();
        let audience: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${})", i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO event_workspaces (workspace_id, seq) VALUES {}",
            audience.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(workspace.to_string());
        for offset in 0..chunk.len() {
            query = query.bind(first + offset as i64);
        }
        query.execute(&mut *tx).await.unwrap();
    }
    sqlx::query("UPDATE log_head SET seq = $1 WHERE id = 1")
        .bind(head + rows.len() as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_snapshot_of_10k_servers_and_100k_keys_syncs_to_a_data_plane() {
    let mut cp = TestControlPlane::start(Backend::Sqlite, Arc::new(InProcessBus::default())).await;
    let workspace = WorkspaceId::new();
    let started = Instant::now();
    write_log(&cp.db, &history(workspace), workspace).await;
    let replayed = cp.db.rebuild_projections().await.unwrap();
    eprintln!(
        "wrote and projected {replayed} events in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let token = cp
        .post_ok(
            "/v1/data-planes",
            json!({"name": "scale", "workspaces": [workspace.to_string()]}),
            StatusCode::CREATED,
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut settings = mcpgw_data_plane::Settings::new(
        "127.0.0.1:0".parse().unwrap(),
        Keyring::parse(&format!("k1:{}", generate_base64_key())).unwrap(),
    );
    settings.egress_allow = CommaList::default();
    let source = SyncSource {
        link: SyncLink::loopback(cp.running.grpc_addr).unwrap(),
        token: Redacted::new(token),
        data_dir: None,
        settings: SyncSettings::default(),
    };
    let started = Instant::now();
    let mut data_plane =
        RunningDataPlane::start(settings, source, Arc::new(InProcessBus::default()))
            .await
            .unwrap();
    assert!(
        data_plane.ready(Duration::from_secs(120)).await,
        "the data plane loads the snapshot"
    );
    let config = data_plane.store.load();
    assert_eq!(
        (config.routes().count(), config.api_keys().count()),
        (SERVERS, KEYS)
    );
    eprintln!(
        "snapshot of {SERVERS} servers and {KEYS} keys synced in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    data_plane.stop().await;
    cp.running.stop().await;
}
