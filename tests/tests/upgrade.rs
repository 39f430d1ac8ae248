//! Upgrade from the previous release (the last one before migration 0006), on PostgreSQL and
//! SQLite: a database holding what that release wrote (`tests/fixtures/previous-release`, made
//! by its `make.sh` from that release's own binary) is migrated forward by `mcpgw-control-plane
//! migrate`; the read models then equal `rebuild-projections`, which reads every event through
//! the upcasters (the previous release stored `ServerRegistered` at schema v1); and the
//! upgraded control plane serves and changes what the old one made.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use mcpgw_control_plane::store::Database;
use mcpgw_e2e::db::{Backend, TestDatabase};
use mcpgw_e2e::process::{ChildProcess, binary, free_port, wait_for_http};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::migrate::Migrator;

/// The last migration of the previous release.
const PREVIOUS_LAST_MIGRATION: i64 = 5;
/// The keys the fixture was written with (throwaway values, see `make.sh`).
const SECRET_KEY: &str = "c7nMOtFYjhsPgZOD6HgSHiWrSOBeFPkJHPpFr3N5eNo=";
const ADMIN_KEY: &str = "mcpgw_prevrelease01_AdminSecretOfThePreviousReleaseFixture0";

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn backend_dir(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    }
}

/// A database in the state the previous release left it: its migrations (released
/// migrations are never edited, so they are this tree's first five) and the rows it wrote.
async fn previous_release_database(backend: Backend) -> TestDatabase {
    let db = TestDatabase::new(backend).await;
    let dir = backend_dir(backend);
    let mut migrator = Migrator::new(repo(&format!("control-plane/migrations/{dir}")))
        .await
        .expect("read the migrations");
    let previous: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= PREVIOUS_LAST_MIGRATION)
        .cloned()
        .collect();
    migrator.migrations = previous.into();
    let rows = std::fs::read_to_string(repo(&format!("tests/fixtures/previous-release/{dir}.sql")))
        .expect("read the fixture");
    match backend {
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
            migrator.run(&mut conn).await.expect("the previous schema");
            sqlx::raw_sql(sqlx::AssertSqlSafe(rows))
                .execute(&mut conn)
                .await
                .expect("the previous release's rows");
        }
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(db.url())
                .unwrap()
                .create_if_missing(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            migrator.run(&mut conn).await.expect("the previous schema");
            sqlx::raw_sql(sqlx::AssertSqlSafe(rows))
                .execute(&mut conn)
                .await
                .expect("the previous release's rows");
        }
    }
    db
}

/// Runs `mcpgw-control-plane <command>` on `url` to its end; returns what it printed.
async fn control_plane_command(command: &str, url: &str) -> String {
    let output = tokio::process::Command::new(binary("mcpgw-control-plane"))
        .arg(command)
        .env("MCPGW_DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run the control plane");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command}: {printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed
}

/// The read models, as comparable text.
async fn read_models(url: &str) -> Vec<String> {
    let db = Database::connect(url).await.expect("connect");
    db.reader().await.unwrap().dump_projections().await.unwrap()
}

/// Migrates, compares the read models with a rebuild, then serves and changes the old data.
async fn upgrade(backend: Backend) {
    let db = previous_release_database(backend).await;
    control_plane_command("migrate", db.url()).await;
    let live = read_models(db.url()).await;
    assert!(live.len() > 5, "the fixture's rows are read: {live:#?}");
    let printed = control_plane_command("rebuild-projections", db.url()).await;
    assert!(
        printed.contains("rebuilt the read models from"),
        "{printed}"
    );
    assert_eq!(
        read_models(db.url()).await,
        live,
        "the migrated read models equal a rebuild from the log"
    );

    // The upgraded control plane serves what the previous one made, and changes it.
    let admin_port = free_port();
    let nats = mcpgw_e2e::nats::PrivateNats::start().await;
    let mut process = ChildProcess::spawn(
        "mcpgw-control-plane",
        &["serve"],
        &[
            ("MCPGW_DATABASE_URL", db.url().to_owned()),
            ("MCPGW_NATS_URL", nats.url()),
            ("MCPGW_SECRET_KEY", SECRET_KEY.to_owned()),
            ("MCPGW_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY.to_owned()),
            ("MCPGW_ADMIN_ADDR", format!("127.0.0.1:{admin_port}")),
            ("MCPGW_GRPC_ADDR", format!("127.0.0.1:{}", free_port())),
            ("RUST_LOG", "warn".to_owned()),
        ],
    );
    let base = format!("http://127.0.0.1:{admin_port}");
    wait_for_http(&format!("{base}/healthz"), Duration::from_secs(30)).await;
    let http = reqwest::Client::new();
    let admin = |method: Method, path: &str, body: Option<Value>| {
        let url = format!("{base}{path}");
        let http = http.clone();
        async move { mcpgw_e2e::admin_api::call(&http, ADMIN_KEY, method, &url, body).await }
    };
    let (status, servers) = admin(Method::GET, "/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK, "{servers}");
    let servers = servers["servers"].as_array().unwrap().clone();
    let github = servers
        .iter()
        .find(|s| s["slug"] == "github")
        .unwrap_or_else(|| panic!("github: {servers:#?}"));
    assert_eq!(github["name"], "GitHub Enterprise");
    // Registered at schema v1, before request logging: upcast to metadata only.
    assert_eq!(
        github["request_logging"],
        json!({"arguments": false, "results": false, "max_bytes": 4096}),
        "{github}"
    );
    assert!(
        !github
            .to_string()
            .contains("upstream-secret-of-the-fixture")
    );
    let id = github["id"].as_str().unwrap();
    let (status, body) = admin(
        Method::PATCH,
        &format!("/v1/servers/{id}"),
        Some(json!({"name": "GitHub (upgraded)", "request_logging": {"arguments": true, "results": false, "max_bytes": 256}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, history) = admin(Method::GET, &format!("/v1/servers/{id}/history"), None).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let types: Vec<&str> = history["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"))
        .iter()
        .filter_map(|v| v["change"].as_str())
        .collect();
    assert_eq!(types.first(), Some(&"ServerRegistered"), "{history}");
    assert!(types.contains(&"ServerRequestLoggingChanged"), "{history}");
    let (status, keys) = admin(Method::GET, "/v1/api-keys", None).await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let ci = keys["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ci")
        .unwrap_or_else(|| panic!("ci: {keys}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = admin(
        Method::POST,
        &format!("/v1/api-keys/{ci}/revoke"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    process.kill().await;

    // Old and new events together still rebuild to the same read models.
    let live = read_models(db.url()).await;
    control_plane_command("rebuild-projections", db.url()).await;
    assert_eq!(read_models(db.url()).await, live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_of_the_previous_release_upgrades() {
    upgrade(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_of_the_previous_release_upgrades() {
    upgrade(Backend::Sqlite).await;
}
