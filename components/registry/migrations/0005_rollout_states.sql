-- Rollout states: the registry never claims more than is true during and after an update.
--
-- health_status gains two states (README "Registry states" has what the router does with each):
--   rolling_out     an update of the model is under way: pods that no smoke test passed yet may
--                   answer through the Service. image/model_revision/... are still the last
--                   fully tested ones; target_* name what is being rolled out.
--   rollout_failed  the update did not pass readiness or its smoke test by rollout_deadline_at
--                   (or was declared failed): untested pods may be serving.
-- Only `pulumi up` (the model's RegistryRollout, then its RegistryEntry) and the expiry rule below
-- move a row into or out of them; the health reporter's probes never touch them (report.sql).
--
-- smoke_job: the smoke Job that passed for the recorded image/revision (its name hashes the
-- served pod template, the replica count and the test). target_smoke_job: the Job that must pass
-- before the target is recorded. All new columns are added without a default (no rewrite of
-- legacy rows, no existing column's type or default changes).

ALTER TABLE model_registry_entries
    ADD COLUMN IF NOT EXISTS smoke_job text,
    ADD COLUMN IF NOT EXISTS target_image text,
    ADD COLUMN IF NOT EXISTS target_revision text,
    ADD COLUMN IF NOT EXISTS target_smoke_job text,
    ADD COLUMN IF NOT EXISTS rollout_started_at timestamptz,
    ADD COLUMN IF NOT EXISTS rollout_deadline_at timestamptz;

-- The state list grows (rows outside it stay refused); a row in a rollout state names its target
-- and deadline. Added NOT VALID, then validated (that takes no lock that blocks readers); a
-- legacy table whose rows violate it keeps it NOT VALID, as in 0001.
ALTER TABLE model_registry_entries
    DROP CONSTRAINT IF EXISTS model_registry_entries_health_status_check,
    ADD CONSTRAINT model_registry_entries_health_status_check
        CHECK (legacy_row OR (health_status IN ('unknown', 'deploying', 'healthy', 'unhealthy',
                                                'retired', 'rolling_out', 'rollout_failed')))
        NOT VALID,
    DROP CONSTRAINT IF EXISTS model_registry_entries_rollout_target_check,
    ADD CONSTRAINT model_registry_entries_rollout_target_check
        CHECK (legacy_row OR health_status NOT IN ('rolling_out', 'rollout_failed')
               OR (target_image IS NOT NULL AND target_revision IS NOT NULL
                   AND target_smoke_job IS NOT NULL AND rollout_started_at IS NOT NULL
                   AND rollout_deadline_at IS NOT NULL))
        NOT VALID;

DO $$
DECLARE
    c text;
BEGIN
    FOREACH c IN ARRAY ARRAY['model_registry_entries_health_status_check',
                             'model_registry_entries_rollout_target_check']
    LOOP
        BEGIN
            EXECUTE format('ALTER TABLE model_registry_entries VALIDATE CONSTRAINT %I', c);
        EXCEPTION WHEN check_violation THEN
            RAISE NOTICE 'constraint % stays NOT VALID: existing rows violate it (new and '
                         'updated rows are checked)', c;
        END;
    END LOOP;
END
$$;

ALTER TABLE model_registry_events
    DROP CONSTRAINT IF EXISTS model_registry_events_action_check,
    ADD CONSTRAINT model_registry_events_action_check
        CHECK (action IN ('registered', 'updated', 'retired', 'reactivated', 'rolled_back',
                          'health_changed', 'adopted', 'rollout_started', 'rollout_failed'))
        NOT VALID;
ALTER TABLE model_registry_events VALIDATE CONSTRAINT model_registry_events_action_check;

-- A router that keeps serving a model through its updates reads healthy and rolling_out rows.
CREATE INDEX IF NOT EXISTS model_registry_entries_serving_idx
    ON model_registry_entries (environment, model_name)
    WHERE routing_enabled AND health_status IN ('healthy', 'rolling_out');

-- The expiry rule, defined once: a rollout still `rolling_out` after its deadline (the update's
-- Pulumi timeouts for the workload and the smoke Job have all run out by then) has failed. Run by
-- the health reporter every minute and by `python -m ops registry expire-rollouts`; returns the
-- number of rows marked. Runs with the caller's rights (the writer role's UPDATE/INSERT grants).
CREATE OR REPLACE FUNCTION vllm_platform_registry_expire_rollouts(env text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH expired AS (
        UPDATE model_registry_entries
           SET health_status = 'rollout_failed'
         WHERE health_status = 'rolling_out'
           AND rollout_deadline_at < now()
           AND (env IS NULL OR environment = env)
        RETURNING id, stack, target_image, target_revision, rollout_deadline_at
    ), recorded AS (
        INSERT INTO model_registry_events (entry_id, action, old_values, new_values, stack, note)
        SELECT id, 'rollout_failed',
               jsonb_build_object('health_status', 'rolling_out'),
               jsonb_build_object('health_status', 'rollout_failed'),
               stack,
               format('rollout of %s (revision %s) not smoke-tested by its deadline %s',
                      target_image, target_revision, rollout_deadline_at)
          FROM expired
        RETURNING 1
    )
    SELECT count(*) INTO n FROM recorded;
    RETURN n;
END
$$;
