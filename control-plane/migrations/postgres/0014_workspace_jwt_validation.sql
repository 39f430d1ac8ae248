-- How a workspace checks bearer JWTs of its identity provider (JSON `JwtValidation`); NULL: API
-- keys only.
ALTER TABLE workspaces ADD COLUMN jwt_validation TEXT;
