//! Read models of the authorization server: `oauth_clients`, `oauth_grants` and
//! `signing_keys`. Secrets stay in the events (hashes) or sealed (private keys).

use super::{Row, update};
use crate::domain::oauth_client::OAuthClientEvent;
use crate::domain::oauth_grant::OAuthGrantEvent;
use crate::domain::signing_key::SigningKeyEvent;
use crate::store::StoreError;

pub(super) async fn apply_client(row: Row<'_>, event: &OAuthClientEvent) -> Result<(), StoreError> {
    match event {
        OAuthClientEvent::Registered(registration) => {
            sqlx::query(
                "INSERT INTO oauth_clients (id, name, redirect_uris, token_endpoint_auth_method, grant_types, \
                 scope, client_uri, revoked, created_at, updated_at, last_seq, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&row.id)
            .bind(&registration.name)
            .bind(serde_json::to_string(&registration.redirect_uris)?)
            .bind(registration.token_endpoint_auth_method.as_str())
            .bind(serde_json::to_string(&registration.grant_types)?)
            .bind(&registration.scope)
            .bind(&registration.client_uri)
            .bind(&row.at)
            .bind(row.seq)
            .bind(row.version)
            .execute(row.conn)
            .await?;
        }
        OAuthClientEvent::Revoked => {
            update(row, "oauth_clients", "revoked = TRUE", |q| q).await?;
        }
    }
    Ok(())
}

pub(super) async fn apply_grant(row: Row<'_>, event: &OAuthGrantEvent) -> Result<(), StoreError> {
    match event {
        OAuthGrantEvent::Issued(grant) => {
            sqlx::query(
                "INSERT INTO oauth_grants (id, client_id, user_id, workspace_id, server_id, resource, scope, \
                 state, revoked_reason, generation, created_at, updated_at, last_seq, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'issued', NULL, 0, $8, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&row.id)
            .bind(&grant.client_id)
            .bind(&grant.user_id)
            .bind(grant.workspace_id.to_string())
            .bind(grant.server_id.to_string())
            .bind(&grant.resource)
            .bind(&grant.scope)
            .bind(&row.at)
            .bind(row.seq)
            .bind(row.version)
            .execute(row.conn)
            .await?;
        }
        OAuthGrantEvent::CodeRedeemed(refresh) | OAuthGrantEvent::RefreshRotated(refresh) => {
            let generation = i64::from(refresh.generation);
            let set = "state = 'active', generation = $4";
            update(row, "oauth_grants", set, |q| q.bind(generation)).await?;
        }
        OAuthGrantEvent::Revoked { reason } => {
            let set = "state = 'revoked', revoked_reason = $4";
            update(row, "oauth_grants", set, |q| q.bind(reason.as_str())).await?;
        }
    }
    Ok(())
}

pub(super) async fn apply_signing_key(
    row: Row<'_>,
    event: &SigningKeyEvent,
) -> Result<(), StoreError> {
    match event {
        SigningKeyEvent::Created {
            kid,
            public_jwk,
            sealed_private,
        } => {
            sqlx::query(
                "INSERT INTO signing_keys (id, kid, public_jwk, sealed_private, created_at, retired_at, last_seq, version) \
                 VALUES ($1, $2, $3, $4, $5, NULL, $6, $7) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&row.id)
            .bind(kid)
            .bind(serde_json::to_string(public_jwk)?)
            .bind(serde_json::to_string(sealed_private)?)
            .bind(&row.at)
            .bind(row.seq)
            .bind(row.version)
            .execute(row.conn)
            .await?;
        }
        SigningKeyEvent::Retired => {
            sqlx::query(
                "UPDATE signing_keys SET retired_at = $2, version = $3, last_seq = $4 \
                 WHERE id = $1 AND last_seq < $4",
            )
            .bind(&row.id)
            .bind(&row.at)
            .bind(row.version)
            .bind(row.seq)
            .execute(row.conn)
            .await?;
        }
    }
    Ok(())
}
