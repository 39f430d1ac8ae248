-- A data plane holds several tokens over its life: rotation keeps the old ones for an overlap
-- window, revocation ends one at once. The token moves out of `data_planes` into a table of
-- its own; existing registrations keep their token.
CREATE TABLE data_plane_tokens (
    token_id      TEXT PRIMARY KEY,
    data_plane_id TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    expires_at    TEXT,
    revoked       BOOLEAN NOT NULL DEFAULT FALSE,
    last_seq      BIGINT  NOT NULL
);
CREATE INDEX data_plane_tokens_by_data_plane ON data_plane_tokens (data_plane_id);

INSERT INTO data_plane_tokens (token_id, data_plane_id, token_hash, created_at, last_seq)
    SELECT token_id, id, token_hash, created_at, last_seq FROM data_planes;

CREATE TABLE data_planes_next (
    id         TEXT PRIMARY KEY,
    name       TEXT   NOT NULL,
    workspaces TEXT,
    version    BIGINT NOT NULL,
    created_at TEXT   NOT NULL,
    last_seq   BIGINT NOT NULL
);
INSERT INTO data_planes_next (id, name, workspaces, version, created_at, last_seq)
    SELECT id, name, workspaces, version, created_at, last_seq FROM data_planes;
DROP TABLE data_planes;
ALTER TABLE data_planes_next RENAME TO data_planes;
