-- Users' connections to per-user OAuth servers: their upstream tokens, sealed by a data plane
-- with a key the control plane does not hold (base64 text, opaque here).
CREATE TABLE upstream_connections (
    id         TEXT PRIMARY KEY,
    server_id  TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    sealed     TEXT   NOT NULL,
    -- The sign-in ended (refresh token refused or never issued): the user must sign in again.
    signed_out BOOLEAN NOT NULL,
    version    BIGINT NOT NULL,
    created_at TEXT   NOT NULL,
    updated_at TEXT   NOT NULL,
    last_seq   BIGINT NOT NULL
);
CREATE INDEX upstream_connections_by_server ON upstream_connections (server_id);
