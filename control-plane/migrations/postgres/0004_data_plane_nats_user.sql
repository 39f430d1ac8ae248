-- Each data plane has a NATS user of its own (an nkey): the public key, for the NATS server's
-- authorization block. Registrations made before this have none.
ALTER TABLE data_planes ADD COLUMN nats_user TEXT;
