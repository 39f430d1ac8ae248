//! A fresh database per test: a SQLite file in a temporary folder, or a new PostgreSQL database
//! on the server named by `MCPGW_TEST_DATABASE_URL` (dropped when the test ends).

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The database behind a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// A fresh, empty database that lives as long as this value.
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Folder(#[allow(dead_code)] tempfile::TempDir),
    PostgresDatabase { server_url: String, name: String },
}

/// The PostgreSQL server the tests use.
pub fn postgres_server_url() -> String {
    std::env::var("MCPGW_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "MCPGW_TEST_DATABASE_URL is not set: run the suite with tests/run.sh, which starts \
             PostgreSQL and sets it (e.g. postgres://postgres@127.0.0.1:5432/test)"
        )
    })
}

impl TestDatabase {
    /// A fresh database of `backend`.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A SQLite file in a new temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("mcpgw.db").display());
        Self {
            url,
            cleanup: Cleanup::Folder(dir),
        }
    }

    /// A new database on the test PostgreSQL server.
    pub async fn postgres() -> Self {
        let server_url = postgres_server_url();
        let name = format!("mcpgw_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&server_url))
            .await
            .unwrap_or_else(|_| panic!("PostgreSQL at {server_url} did not answer within 10 s: is it running? (tests/run.sh starts it)"))
            .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {server_url}: {e} (tests/run.sh starts it)"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        let url = replace_database(&server_url, &name);
        Self {
            url,
            cleanup: Cleanup::PostgresDatabase { server_url, name },
        }
    }

    /// The database URL, as `MCPGW_DATABASE_URL` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::PostgresDatabase { server_url, name } = &self.cleanup else {
            return;
        };
        let (server_url, name) = (server_url.clone(), name.clone());
        // Drop runs outside any runtime guarantee: use a thread with its own small runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&server_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                    }
                });
            }
        })
        .join();
    }
}

fn replace_database(server_url: &str, name: &str) -> String {
    let (base, query) = server_url
        .split_once('?')
        .map_or((server_url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
