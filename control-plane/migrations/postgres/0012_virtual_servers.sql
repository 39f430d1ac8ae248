-- A virtual server's members and prefix mode (JSON `VirtualServer`); NULL: an ordinary server.
ALTER TABLE servers ADD COLUMN virtual_server TEXT;
