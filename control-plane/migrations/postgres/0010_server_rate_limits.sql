-- A server's rate limits and quotas (JSON list of `RateLimit`); NULL: none.
ALTER TABLE servers ADD COLUMN rate_limits TEXT;
