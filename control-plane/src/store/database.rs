//! Connecting to the database and migrating it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use super::StoreError;

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Which SQL database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL: production, several control-plane replicas.
    Postgres,
    /// SQLite: the embedded default, one process.
    Sqlite,
}

/// A connection pool with its dialect.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    dialect: Dialect,
    url: String,
}

impl Database {
    /// Connects to `url` (`postgres://…` or `sqlite://…`); a SQLite file is created if missing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                "MCPGW_DATABASE_URL must start with postgres:// or sqlite://".into(),
            )));
        };
        if dialect == Dialect::Sqlite {
            super::sqlite_file::make_private(url)?;
        }
        let connect_url = match dialect {
            Dialect::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&connect_url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Postgres => 16,
                Dialect::Sqlite => 8,
            })
            // Opening a PostgreSQL connection can take tens of milliseconds: keep a warm pool so
            // a burst of sync calls after a change does not wait for new connections.
            .min_connections(match dialect {
                Dialect::Postgres => 12,
                Dialect::Sqlite => 1,
            })
            .acquire_timeout(Duration::from_secs(10))
            // A slow acquire shows as a warning: the pool is too small for the load.
            .acquire_slow_threshold(Duration::from_millis(50))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            dialect,
            url: url.to_owned(),
        })
    }

    /// A migrated SQLite database in memory, private to the caller (for unit tests).
    #[cfg(test)]
    pub async fn in_memory() -> Self {
        let name = uuid::Uuid::new_v4().simple();
        let db = Self::connect(&format!(
            "sqlite:file:mcpgw-{name}?mode=memory&cache=shared"
        ))
        .await
        .expect("an in-memory SQLite database opens");
        db.migrate().await.expect("the schema applies");
        db
    }

    /// Applies pending migrations of this dialect.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.dialect {
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// The pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL it was connected with (for dialect-specific side connections).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Starts a write transaction. Under SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers never deadlock on a lock upgrade.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.dialect {
            Dialect::Postgres => self.pool.begin().await?,
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
        })
    }

    /// Starts a read-only transaction that sees one consistent state of the database.
    pub(crate) async fn begin_snapshot(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.dialect {
            Dialect::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
            // A deferred SQLite transaction reads one WAL snapshot from its first read on.
            Dialect::Sqlite => self.pool.begin().await?,
        })
    }
}
