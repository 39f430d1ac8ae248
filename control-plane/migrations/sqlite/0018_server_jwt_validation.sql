-- How a server checks bearer tokens of an identity provider before its workspaces' rules
-- (JSON `JwtValidation`, an introspection client secret sealed with MCPGW_SECRET_KEY); NULL: none.
ALTER TABLE servers ADD COLUMN jwt_validation TEXT;
