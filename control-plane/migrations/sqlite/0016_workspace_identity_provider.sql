-- The OpenID Connect provider a workspace's users sign in with at the gateway's authorization
-- server (JSON `IdentityProvider`, its client secret sealed with MCPGW_SECRET_KEY); NULL: none.
ALTER TABLE workspaces ADD COLUMN identity_provider TEXT;
