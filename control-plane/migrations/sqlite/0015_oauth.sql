-- The gateway's own OAuth authorization server: registered clients, grants (an authorization
-- code and its refresh-token family, kept as hashes in the events only) and the keys access
-- tokens are signed with (the private key sealed with MCPGW_SECRET_KEY).
CREATE TABLE oauth_clients (
    id                         TEXT PRIMARY KEY,
    name                       TEXT    NOT NULL,
    -- JSON arrays of text.
    redirect_uris              TEXT    NOT NULL,
    token_endpoint_auth_method TEXT    NOT NULL,
    grant_types                TEXT    NOT NULL,
    scope                      TEXT    NOT NULL,
    client_uri                 TEXT    NOT NULL,
    revoked                    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                 TEXT    NOT NULL,
    updated_at                 TEXT    NOT NULL,
    last_seq                   BIGINT  NOT NULL,
    version                    BIGINT  NOT NULL
);

CREATE TABLE oauth_grants (
    id             TEXT PRIMARY KEY,
    -- A registered client's id or a Client ID Metadata Document URL.
    client_id      TEXT   NOT NULL,
    user_id        TEXT   NOT NULL,
    workspace_id   TEXT   NOT NULL,
    server_id      TEXT   NOT NULL,
    resource       TEXT   NOT NULL,
    scope          TEXT   NOT NULL,
    -- `issued` (a code), `active` (refresh tokens) or `revoked`.
    state          TEXT   NOT NULL,
    revoked_reason TEXT,
    -- The current refresh token's generation (0 before the code is redeemed).
    generation     BIGINT NOT NULL,
    created_at     TEXT   NOT NULL,
    updated_at     TEXT   NOT NULL,
    last_seq       BIGINT NOT NULL,
    version        BIGINT NOT NULL
);
CREATE INDEX oauth_grants_by_client ON oauth_grants (client_id);
CREATE INDEX oauth_grants_by_user ON oauth_grants (user_id);
CREATE INDEX oauth_grants_by_workspace ON oauth_grants (workspace_id);

CREATE TABLE signing_keys (
    id             TEXT PRIMARY KEY,
    kid            TEXT   NOT NULL,
    -- The public JWK, JSON.
    public_jwk     TEXT   NOT NULL,
    sealed_private TEXT   NOT NULL,
    created_at     TEXT   NOT NULL,
    retired_at     TEXT,
    last_seq       BIGINT NOT NULL,
    version        BIGINT NOT NULL
);
