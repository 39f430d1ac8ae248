//! Leader election for the outbox relay. On PostgreSQL: a session-level advisory lock held on a
//! dedicated connection, released when the connection ends (so a crashed leader's lock frees
//! itself), checked every second. On SQLite, which serves one process, the relay always leads.
//! Commits in other replicas wake the leader through `LISTEN mcpgw_events`.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgListener};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::store::{Database, Dialect};

/// Advisory lock key of the outbox relay ("mcpgw" in ASCII).
const RELAY_LOCK_KEY: i64 = 0x6d_63_70_67_77;

/// Held leadership; dropping or releasing it lets another replica lead.
pub struct Leadership {
    lost: CancellationToken,
    keeper: Option<JoinHandle<()>>,
}

impl Leadership {
    /// Waits until this process leads.
    pub async fn acquire(db: &Database, retry: Duration) -> Self {
        if db.dialect() == Dialect::Sqlite {
            return Self {
                lost: CancellationToken::new(),
                keeper: None,
            };
        }
        loop {
            match try_lock(db.url()).await {
                Ok(Some(conn)) => {
                    let lost = CancellationToken::new();
                    let keeper = tokio::spawn(keep(conn, lost.clone(), retry));
                    return Self {
                        lost,
                        keeper: Some(keeper),
                    };
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "cannot try the outbox leader lock"),
            }
            tokio::time::sleep(retry).await;
        }
    }

    /// Cancelled when leadership is lost (the lock connection failed).
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Gives leadership up.
    pub async fn release(mut self) {
        if let Some(keeper) = self.keeper.take() {
            keeper.abort();
            let _ = keeper.await;
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        if let Some(keeper) = self.keeper.take() {
            keeper.abort();
        }
    }
}

async fn try_lock(url: &str) -> Result<Option<PgConnection>, sqlx::Error> {
    let mut conn = PgConnection::connect(url).await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(RELAY_LOCK_KEY)
        .fetch_one(&mut conn)
        .await?;
    Ok(locked.then_some(conn))
}

/// Holds the lock connection, checking it every `period`; cancels `lost` when it fails.
async fn keep(mut conn: PgConnection, lost: CancellationToken, period: Duration) {
    loop {
        tokio::time::sleep(period).await;
        let alive = tokio::time::timeout(period * 3, conn.ping()).await;
        if !matches!(alive, Ok(Ok(()))) {
            tracing::warn!("outbox leader lock connection failed");
            lost.cancel();
            return;
        }
    }
}

/// Wakes the relay on commits in any replica (PostgreSQL `NOTIFY` at commit). `None` on SQLite
/// or when listening fails (the relay then relies on local wakeups and polling).
pub async fn listen_for_commits(db: &Database, wakeup: Arc<Notify>) -> Option<JoinHandle<()>> {
    if db.dialect() != Dialect::Postgres {
        return None;
    }
    let mut listener = match PgListener::connect(db.url()).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "cannot LISTEN for commits; relying on polling");
            return None;
        }
    };
    if let Err(error) = listener.listen("mcpgw_events").await {
        tracing::warn!(%error, "cannot LISTEN for commits; relying on polling");
        return None;
    }
    Some(tokio::spawn(async move {
        while listener.recv().await.is_ok() {
            wakeup.notify_one();
        }
    }))
}
