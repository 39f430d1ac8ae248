-- A workspace's rate limits and quotas on everything its keys call (JSON list of `RateLimit`);
-- NULL: none.
ALTER TABLE workspaces ADD COLUMN rate_limits TEXT;
