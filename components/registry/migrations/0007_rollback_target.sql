-- A rollback without a restart (#27, models[].rollout.keepPrevious): after a rollout the previous
-- revision's replicas keep serving for a window, and the row names them as its rollback target.
-- README "Registry states" has what the router does: it routes by endpoint_url, routing_enabled
-- and health_status as before; the previous_* columns are for `ops rollback` and people, never a
-- second endpoint (the Service keeps its name; its selector flips).
--
--   previous_image, previous_revision   what the previous revision served (smoke-tested)
--   previous_smoke_job                  the smoke Job that passed for it (its evidence)
--   previous_deployment_name            its workload, still running during the window
--   previous_until                      the end of the window; after it, the target is gone
--
-- Written only by the SECURITY DEFINER functions below, in the style of 0006 (caller identity
-- from session_user and the writer bindings, search_path pinned, ownership checked on the
-- locked row). Columns are added without a default (no table rewrite).

ALTER TABLE model_registry_entries
    ADD COLUMN IF NOT EXISTS previous_image text,
    ADD COLUMN IF NOT EXISTS previous_revision text,
    ADD COLUMN IF NOT EXISTS previous_smoke_job text,
    ADD COLUMN IF NOT EXISTS previous_deployment_name text,
    ADD COLUMN IF NOT EXISTS previous_until timestamptz;

-- All of a rollback target or none of it.
ALTER TABLE model_registry_entries
    DROP CONSTRAINT IF EXISTS model_registry_entries_previous_check,
    ADD CONSTRAINT model_registry_entries_previous_check
        CHECK (num_nulls(previous_image, previous_revision, previous_smoke_job,
                         previous_deployment_name, previous_until) IN (0, 5))
        NOT VALID;
ALTER TABLE model_registry_entries VALIDATE CONSTRAINT model_registry_entries_previous_check;

ALTER TABLE model_registry_events
    DROP CONSTRAINT IF EXISTS model_registry_events_action_check,
    ADD CONSTRAINT model_registry_events_action_check
        CHECK (action IN ('registered', 'updated', 'retired', 'reactivated', 'rolled_back',
                          'health_changed', 'adopted', 'rollout_started', 'rollout_failed',
                          'previous_kept', 'previous_dropped'))
        NOT VALID;
ALTER TABLE model_registry_events VALIDATE CONSTRAINT model_registry_events_action_check;

-- 0006's write, with the previous_* columns updatable (the list is the function's guard).
CREATE OR REPLACE FUNCTION vllm_platform_registry_write(
    r model_registry_entries, changes jsonb, p_action text, p_stack text, p_note text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    updatable CONSTANT text[] := ARRAY[
        'endpoint_url', 'routing_enabled', 'namespace', 'deployment_name', 'image', 'hf_model_id',
        'model_revision', 'max_model_len', 'gpu_type', 'gpus_per_replica', 'replicas', 'stack',
        'health_status', 'retired_at', 'last_health_check_at', 'legacy_row', 'owner_stack',
        'consecutive_failures', 'smoke_job', 'target_image', 'target_revision',
        'target_smoke_job', 'rollout_started_at', 'rollout_deadline_at',
        'previous_image', 'previous_revision', 'previous_smoke_job',
        'previous_deployment_name', 'previous_until'];
    assignments text;
    after jsonb;
BEGIN
    IF EXISTS (SELECT 1 FROM jsonb_object_keys(changes) k WHERE k <> ALL (updatable)) THEN
        RAISE EXCEPTION 'not an updatable registry column in %', changes
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(format('%I = n.%I', k, k), ', ') INTO assignments
      FROM jsonb_object_keys(changes) AS k;
    EXECUTE format('UPDATE model_registry_entries AS e SET %s '
                   'FROM jsonb_populate_record(NULL::model_registry_entries, $1) AS n '
                   'WHERE e.id = $2 RETURNING to_jsonb(e)', assignments)
       INTO after USING changes, r.id;
    IF after IS NULL THEN
        RAISE EXCEPTION 'registry row % vanished while locked', r.id;
    END IF;
    INSERT INTO model_registry_events (entry_id, action, old_values, new_values, stack, note)
    SELECT r.id, p_action,
           jsonb_object_agg(k, to_jsonb(r) -> k), jsonb_object_agg(k, after -> k), p_stack, p_note
      FROM jsonb_object_keys(changes) AS k;
END
$$;
REVOKE ALL ON FUNCTION vllm_platform_registry_write(model_registry_entries, jsonb, text, text, text)
    FROM PUBLIC;

CREATE OR REPLACE FUNCTION vllm_platform_registry_previous_cleared() RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT jsonb_build_object('previous_image', NULL, 'previous_revision', NULL,
                              'previous_smoke_job', NULL, 'previous_deployment_name', NULL,
                              'previous_until', NULL);
$$;
REVOKE ALL ON FUNCTION vllm_platform_registry_previous_cleared() FROM PUBLIC;

-- keep_previous: a `healthy` row serving a newer, smoke-tested revision names the one it replaced
-- (still running as p_deployment_name) as its rollback target for p_minutes. NULL when there is
-- no row, the row is not healthy (a rollout that has not passed its smoke test has nothing to
-- roll back from yet), or the target is what the row serves.
CREATE OR REPLACE FUNCTION vllm_platform_registry_keep_previous(
    p_environment text, p_model_name text, p_image text, p_revision text, p_smoke_job text,
    p_deployment_name text, p_minutes integer, p_owner text, p_stack text, p_note text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, p_owner);
    r model_registry_entries%ROWTYPE;
BEGIN
    IF p_minutes IS NULL OR p_minutes < 1 OR p_minutes > 1440 THEN
        RAISE EXCEPTION 'minutes must be 1..1440' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF num_nulls(p_image, p_revision, p_smoke_job, p_deployment_name) > 0 THEN
        RAISE EXCEPTION 'a rollback target needs its image, revision, smoke Job and workload'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO r FROM model_registry_entries
     WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_check_owner(r, owner_, 'keep a rollback target for');
    IF r.health_status <> 'healthy'
       OR (r.image IS NOT DISTINCT FROM p_image AND r.model_revision IS NOT DISTINCT FROM p_revision)
    THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_write(
        r, jsonb_build_object(
            'previous_image', p_image, 'previous_revision', p_revision,
            'previous_smoke_job', p_smoke_job, 'previous_deployment_name', p_deployment_name,
            'previous_until', now() + make_interval(mins => p_minutes)),
        'previous_kept', p_stack, p_note);
    RETURN 'previous_kept';
END
$$;

-- switch_to_previous: inside the window, the row serves its rollback target again, in one
-- statement: image, revision, smoke evidence and workload become the previous ones, the row is
-- `healthy` (the previous revision passed its smoke test and kept serving), the target is
-- cleared (the retired revision is no target). NULL when there is no target or its window ended.
CREATE OR REPLACE FUNCTION vllm_platform_registry_switch_to_previous(
    p_environment text, p_model_name text, p_owner text, p_stack text, p_note text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, p_owner);
    r model_registry_entries%ROWTYPE;
BEGIN
    SELECT * INTO r FROM model_registry_entries
     WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_check_owner(r, owner_, 'roll back');
    IF r.previous_until IS NULL OR r.previous_until <= now() OR r.health_status = 'retired' THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_write(
        r, jsonb_build_object(
            'image', r.previous_image, 'model_revision', r.previous_revision,
            'smoke_job', r.previous_smoke_job, 'deployment_name', r.previous_deployment_name,
            'health_status', 'healthy', 'consecutive_failures', 0,
            'target_image', NULL, 'target_revision', NULL, 'target_smoke_job', NULL,
            'rollout_started_at', NULL, 'rollout_deadline_at', NULL)
           || vllm_platform_registry_previous_cleared(),
        'rolled_back', p_stack,
        coalesce(p_note, format('switched back to %s (revision %s), kept serving until %s',
                                r.previous_image, r.previous_revision, r.previous_until)));
    RETURN 'rolled_back';
END
$$;

-- drop_previous: the previous revision's replicas are going (the window ended, or by hand).
CREATE OR REPLACE FUNCTION vllm_platform_registry_drop_previous(
    p_environment text, p_model_name text, p_owner text, p_stack text, p_note text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, p_owner);
    r model_registry_entries%ROWTYPE;
BEGIN
    SELECT * INTO r FROM model_registry_entries
     WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_check_owner(r, owner_, 'drop the rollback target of');
    IF r.previous_until IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_write(
        r, vllm_platform_registry_previous_cleared(), 'previous_dropped', p_stack, p_note);
    RETURN 'previous_dropped';
END
$$;

-- The window rule, defined once: a rollback target whose window ended is cleared. A bound writer
-- applies it to its own environment (NULL: its own), the owner to one or every environment; the
-- number of rows cleared.
CREATE OR REPLACE FUNCTION vllm_platform_registry_expire_previous(env text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    n integer := 0;
    bound text;
    r model_registry_entries%ROWTYPE;
BEGIN
    SELECT environment INTO bound FROM vllm_platform_registry_writers
     WHERE role_name = session_user;
    env := coalesce(env, bound);
    PERFORM vllm_platform_registry_caller(env, NULL);
    FOR r IN
        SELECT * FROM model_registry_entries
         WHERE previous_until <= now() AND (env IS NULL OR environment = env)
         ORDER BY id FOR UPDATE
    LOOP
        PERFORM vllm_platform_registry_write(
            r, vllm_platform_registry_previous_cleared(), 'previous_dropped', r.stack,
            format('rollback target %s (revision %s) expired at %s', r.previous_image,
                   r.previous_revision, r.previous_until));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
