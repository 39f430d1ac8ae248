-- Read models, updated in the append transaction and rebuildable from the log.
-- JSON columns are TEXT so one set of queries serves PostgreSQL and SQLite.

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT   NOT NULL UNIQUE,
    version    BIGINT NOT NULL,
    created_at TEXT   NOT NULL,
    updated_at TEXT   NOT NULL,
    last_seq   BIGINT NOT NULL
);

CREATE TABLE servers (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT    NOT NULL,
    slug               TEXT    NOT NULL UNIQUE,
    name               TEXT    NOT NULL,
    description        TEXT    NOT NULL,
    url                TEXT    NOT NULL,
    auth               TEXT    NOT NULL,
    tools              TEXT    NOT NULL,
    enabled            BOOLEAN NOT NULL,
    version            BIGINT  NOT NULL,
    connection_version BIGINT  NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    last_seq           BIGINT  NOT NULL
);

-- Every workspace a server serves: its home and those it is provisioned to.
CREATE TABLE server_workspaces (
    server_id    TEXT    NOT NULL,
    workspace_id TEXT    NOT NULL,
    home         BOOLEAN NOT NULL,
    PRIMARY KEY (server_id, workspace_id)
);
CREATE INDEX server_workspaces_by_workspace ON server_workspaces (workspace_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT,
    name         TEXT    NOT NULL,
    key_type     TEXT    NOT NULL,
    user_id      TEXT,
    permissions  TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    version      BIGINT  NOT NULL,
    created_at   TEXT    NOT NULL,
    last_seq     BIGINT  NOT NULL
);
CREATE INDEX api_keys_by_workspace ON api_keys (workspace_id);

CREATE TABLE data_planes (
    id         TEXT PRIMARY KEY,
    name       TEXT   NOT NULL,
    workspaces TEXT,
    token_id   TEXT   NOT NULL UNIQUE,
    token_hash TEXT   NOT NULL,
    version    BIGINT NOT NULL,
    created_at TEXT   NOT NULL,
    last_seq   BIGINT NOT NULL
);

-- Operational status reported by data-plane instances; not event-sourced (it changes every
-- second) and not a projection.
CREATE TABLE data_plane_instances (
    data_plane_id TEXT    NOT NULL,
    instance_id   TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    applied_seq   BIGINT  NOT NULL,
    healthy       BOOLEAN NOT NULL,
    last_seen     TEXT    NOT NULL,
    PRIMARY KEY (data_plane_id, instance_id)
);
