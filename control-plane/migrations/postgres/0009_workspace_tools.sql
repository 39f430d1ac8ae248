-- A workspace's tool policy (JSON `ToolFilter`: allow, deny, read_only), limiting every server
-- its keys reach; NULL: none.
ALTER TABLE workspaces ADD COLUMN tools TEXT;
