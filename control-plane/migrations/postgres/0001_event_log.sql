-- The append-only event log and its bookkeeping. Appends are serialized by the row lock on
-- log_head, taken in the append transaction, so the global sequence is gapless and in commit
-- order: a reader that has seen N has seen everything up to N.

CREATE TABLE events (
    seq            BIGINT PRIMARY KEY,
    stream_id      TEXT   NOT NULL,
    stream_version BIGINT NOT NULL,
    event_type     TEXT   NOT NULL,
    schema_version BIGINT NOT NULL,
    payload        TEXT   NOT NULL,
    actor          TEXT   NOT NULL,
    recorded_at    TEXT   NOT NULL,
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);

-- Which workspaces each event concerns (the workspaces it is published to).
CREATE TABLE event_workspaces (
    workspace_id TEXT   NOT NULL,
    seq          BIGINT NOT NULL REFERENCES events (seq),
    PRIMARY KEY (workspace_id, seq)
);

CREATE TABLE log_head (
    id  BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO log_head (id, seq) VALUES (1, 0);

-- Everything up to published_seq has been published to the event bus.
CREATE TABLE outbox_cursor (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    published_seq BIGINT NOT NULL
);
INSERT INTO outbox_cursor (id, published_seq) VALUES (1, 0);
