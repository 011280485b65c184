-- Health reporting: the in-cluster health reporter records when it last probed each entry,
-- and the API router's lookup (routable models of one environment) gets an index.

ALTER TABLE model_registry_entries
    ADD COLUMN IF NOT EXISTS last_health_check_at timestamptz;

CREATE INDEX IF NOT EXISTS model_registry_entries_routable_idx
    ON model_registry_entries (environment, model_name)
    WHERE routing_enabled AND health_status = 'healthy';
