//! The outbox relay's published cursor.

use mcpgw_shared::wire::Audience;
use sqlx::Row;

use super::event_log::parse_text;
use super::{Database, StoreError};

impl Database {
    /// Everything up to this sequence has been published.
    pub async fn published_seq(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT published_seq FROM outbox_cursor WHERE id = 1")
                .fetch_one(self.pool())
                .await?
                .try_get(0)?,
        )
    }

    /// Advances the published cursor to `seq`; never moves it backwards.
    pub async fn advance_published_seq(&self, seq: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox_cursor SET published_seq = $1 WHERE id = 1 AND published_seq < $1",
        )
        .bind(seq)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The highest sequence that concerns each workspace, up to `up_to`.
    pub async fn workspace_heads(&self, up_to: i64) -> Result<Vec<(Audience, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT workspace_id, MAX(seq) FROM event_workspaces WHERE seq <= $1 GROUP BY workspace_id",
        )
        .bind(up_to)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((parse_text(row.try_get(0)?)?, row.try_get(1)?)))
            .collect()
    }
}
