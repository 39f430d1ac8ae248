-- What the request log keeps of a server's requests (JSON `RequestLogging`); NULL for servers
-- registered before it existed: metadata only.
ALTER TABLE servers ADD COLUMN request_logging TEXT;
