-- Ownership and flap damping.
--
-- owner_stack: the stack ("<project>/<stack>") that created the entry. Only that stack's
-- RegistryEntry may update or retire it; a handover is `python -m ops registry adopt`, recorded
-- as an `adopted` event. NULL on rows written before this migration: the first write from the
-- stack named in the row's `stack` column claims it (see components/registry/store.py).
--
-- consecutive_failures: failed health probes in a row; the health reporter marks a model
-- unhealthy only after healthReporter.failureThreshold of them, and a passing probe resets it.
-- Both columns are added without a volatile default, so legacy rows are not rewritten.

ALTER TABLE model_registry_entries
    ADD COLUMN IF NOT EXISTS owner_stack text,
    ADD COLUMN IF NOT EXISTS consecutive_failures integer NOT NULL DEFAULT 0;

ALTER TABLE model_registry_entries
    DROP CONSTRAINT IF EXISTS model_registry_entries_consecutive_failures_check,
    ADD CONSTRAINT model_registry_entries_consecutive_failures_check
        CHECK (consecutive_failures >= 0) NOT VALID;
ALTER TABLE model_registry_entries
    VALIDATE CONSTRAINT model_registry_entries_consecutive_failures_check;

-- The audit trail learns `adopted` (added NOT VALID, then validated: that takes no lock that
-- blocks readers).
ALTER TABLE model_registry_events
    DROP CONSTRAINT IF EXISTS model_registry_events_action_check,
    ADD CONSTRAINT model_registry_events_action_check
        CHECK (action IN ('registered', 'updated', 'retired', 'reactivated', 'rolled_back',
                          'health_changed', 'adopted')) NOT VALID;
ALTER TABLE model_registry_events VALIDATE CONSTRAINT model_registry_events_action_check;

-- A failure count that moves every minute is probe bookkeeping, like last_health_check_at:
-- it does not move updated_at either.
DROP TRIGGER IF EXISTS model_registry_entries_touch_updated_at ON model_registry_entries;
CREATE TRIGGER model_registry_entries_touch_updated_at
    BEFORE UPDATE ON model_registry_entries
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_health_check_at' - 'consecutive_failures' - 'updated_at')
          IS DISTINCT FROM
          (to_jsonb(NEW) - 'last_health_check_at' - 'consecutive_failures' - 'updated_at'))
    EXECUTE FUNCTION vllm_platform_registry_touch_updated_at();
