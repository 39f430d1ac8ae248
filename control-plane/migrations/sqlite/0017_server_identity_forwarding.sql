-- What a server's upstream is told of the caller (JSON `IdentityForwarding`); NULL: nothing.
ALTER TABLE servers ADD COLUMN identity_forwarding TEXT;
