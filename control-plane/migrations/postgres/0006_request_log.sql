-- The request log: one row per MCP request a data plane answered, kept for a bounded time
-- (MCPGW_REQUEST_LOG_RETENTION) and number (MCPGW_REQUEST_LOG_MAX_RECORDS). Request ids are
-- UUIDv7, so their order is their time order; `record` is the whole record as JSON.
CREATE TABLE request_log (
    request_id    TEXT PRIMARY KEY,
    time          TEXT    NOT NULL,
    data_plane_id TEXT    NOT NULL,
    workspace_id  TEXT,
    server_id     TEXT,
    server        TEXT,
    key_id        TEXT,
    user_name     TEXT,
    method        TEXT,
    target        TEXT,
    status        INTEGER NOT NULL,
    reason        TEXT,
    record        TEXT    NOT NULL
);
CREATE INDEX request_log_by_time ON request_log (time);
CREATE INDEX request_log_by_server ON request_log (server_id, request_id);
