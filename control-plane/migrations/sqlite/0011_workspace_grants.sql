-- What single keys and users of a workspace may use (JSON map of `Grants` by `key:<id>` or
-- `user:<id>`); NULL: none.
ALTER TABLE workspaces ADD COLUMN grants TEXT;
