-- When each data-plane instance started (reported as its uptime), for the fleet view.
ALTER TABLE data_plane_instances ADD COLUMN started_at TEXT;
