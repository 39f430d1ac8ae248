//! Users' connections to per-user OAuth servers: data planes store the sealed tokens (with
//! compare-and-swap on the connection's version), administrators list and revoke them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mcpgw_shared::model::ConnectionRecord;
use mcpgw_shared::wire::Audience;
use mcpgw_shared::{ConnectionId, ServerId};

use super::{Caller, Service, ServiceError};
use crate::domain::Actor;
use crate::domain::DomainError;
use crate::domain::connection::{Connection, ConnectionCommand};
use crate::store::{ConnectionRow, DataPlaneRow, ServerRow};

/// What a data plane asks to store.
#[derive(Debug, Clone)]
pub struct StoreConnectionInput {
    /// The server.
    pub server_id: ServerId,
    /// The user.
    pub user_id: String,
    /// The version the data plane read (0: not connected yet).
    pub expected_version: i64,
    /// The sealed tokens; empty ends the connection.
    pub sealed: Vec<u8>,
    /// The tokens no longer work: the user must sign in again.
    pub signed_out: bool,
}

/// A stored connection write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredConnection {
    /// The connection's version after it.
    pub version: i64,
    /// The sequence of its event.
    pub seq: i64,
}

impl Service {
    /// Stores (or, with no tokens, ends) a user's connection for `data_plane`, if the data
    /// plane serves the server, the server signs users in with OAuth, and the connection is
    /// still at the version the data plane read.
    pub async fn store_connection(
        &self,
        data_plane: &DataPlaneRow,
        input: StoreConnectionInput,
    ) -> Result<StoredConnection, ServiceError> {
        let server = self.db.reader().await?.server(&input.server_id).await?;
        let scope = data_plane.scope();
        let server = server
            .filter(|s| s.workspaces().any(|w| scope.is_none_or(|s| s.contains(w))))
            .ok_or_else(|| ServiceError::not_found("server", input.server_id))?;
        if server.auth.type_name() != "oauth2" {
            return Err(DomainError::invalid(
                "server_id",
                format!(
                    "server `{}` does not sign users in with OAuth (its auth is `{}`)",
                    server.slug,
                    server.auth.type_name()
                ),
            )
            .into());
        }
        let audience = audience_of(&server);
        let command = if input.sealed.is_empty() {
            ConnectionCommand::Revoke { audience }
        } else {
            ConnectionCommand::Store {
                server_id: input.server_id,
                user_id: input.user_id.clone(),
                sealed: STANDARD.encode(&input.sealed),
                signed_out: input.signed_out,
                audience,
            }
        };
        let id = ConnectionId::of(&input.server_id, &input.user_id);
        let outcome = self
            .execute_as::<Connection>(
                Actor::DataPlane(data_plane.id),
                &id,
                Some(input.expected_version),
                |_| Ok(()),
                command,
            )
            .await?;
        Ok(StoredConnection {
            version: outcome.version,
            seq: outcome.events.last().map_or(0, |e| e.seq),
        })
    }

    /// The users connected to server `id`, if the caller manages it.
    pub async fn connections(
        &self,
        caller: &Caller,
        id: &ServerId,
    ) -> Result<Vec<ConnectionRow>, ServiceError> {
        self.server(caller, id).await?;
        Ok(self.db.reader().await?.connections_of(id).await?)
    }

    /// Ends `user`'s connection to server `id`: its tokens are deleted on every plane, and
    /// every data plane closes the user's streams to the server. The user signs in again.
    pub async fn revoke_connection(
        &self,
        caller: &Caller,
        id: &ServerId,
        user: &str,
    ) -> Result<(), ServiceError> {
        let server = self.server(caller, id).await?;
        let command = ConnectionCommand::Revoke {
            audience: audience_of(&server),
        };
        self.execute::<Connection>(
            caller,
            &ConnectionId::of(id, user),
            None,
            |_| Ok(()),
            command,
        )
        .await?;
        Ok(())
    }
}

/// A connection as data planes hold it.
pub(super) fn connection_record(row: ConnectionRow) -> Result<ConnectionRecord, ServiceError> {
    let sealed = STANDARD.decode(&row.sealed).map_err(|_| {
        crate::store::StoreError::Corrupt(format!("connection {} holds no base64", row.id))
    })?;
    Ok(ConnectionRecord {
        id: row.id,
        server_id: row.server_id,
        user_id: row.user_id,
        version: row.version,
        sealed,
    })
}

/// Who a connection's change concerns: every workspace its server serves.
fn audience_of(server: &ServerRow) -> Vec<Audience> {
    server
        .workspaces()
        .map(|w| Audience::Workspace(*w))
        .collect()
}
