-- LoRA adapters as routable models (#26): one row per adapter, model_name = the adapter's name,
-- served by its base model's replicas at the base model's endpoint. docs/registry-contract.md
-- tells the router how to read them.
--
--   base_model_name   the base model's model_name (same environment); NULL on a model's own row
--   adapter_hf_repo   the adapter's Hugging Face repository
--   adapter_revision  the adapter revision served
--
-- An adapter row's image, hf_model_id and model_revision are its base model's (what its pods
-- serve); the base model's rollout takes its adapter rows through the same states (begin, fail,
-- the deadline rule, settled by each row's own registration with the rollout's smoke Job, which
-- sends a completion to every adapter on every replica), and the health reporter's probe of the
-- base model is recorded on its adapter rows too. Only rows of the caller's own stack follow a
-- base model: another stack's row naming it is never touched by this stack's writes.
--
-- Written in the style of 0006: columns without a default (no table rewrite), constraints added
-- NOT VALID then validated, every function SECURITY DEFINER with search_path pinned.

ALTER TABLE model_registry_entries
    ADD COLUMN IF NOT EXISTS base_model_name text,
    ADD COLUMN IF NOT EXISTS adapter_hf_repo text,
    ADD COLUMN IF NOT EXISTS adapter_revision text;

-- All of an adapter's columns or none; an adapter is not its own base.
ALTER TABLE model_registry_entries
    DROP CONSTRAINT IF EXISTS model_registry_entries_adapter_check,
    ADD CONSTRAINT model_registry_entries_adapter_check
        CHECK (num_nulls(base_model_name, adapter_hf_repo, adapter_revision) IN (0, 3)
               AND base_model_name IS DISTINCT FROM model_name
               AND (base_model_name IS NULL
                    OR (char_length(base_model_name) BETWEEN 1 AND 253
                        AND char_length(adapter_hf_repo) BETWEEN 1 AND 253
                        AND char_length(adapter_revision) BETWEEN 1 AND 253)))
        NOT VALID;
ALTER TABLE model_registry_entries VALIDATE CONSTRAINT model_registry_entries_adapter_check;

CREATE INDEX IF NOT EXISTS model_registry_entries_base_model_idx
    ON model_registry_entries (environment, base_model_name)
    WHERE base_model_name IS NOT NULL;

-- 0007's write, with the adapter columns updatable (the list is the function's guard).
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
        'previous_deployment_name', 'previous_until',
        'base_model_name', 'adapter_hf_repo', 'adapter_revision'];
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

-- The adapter rows of a base model that this call's stack may write, locked, oldest first (a
-- NULL owner: the schema owner's own call, every adapter row of the base).
CREATE OR REPLACE FUNCTION vllm_platform_registry_adapter_rows(
    p_environment text, p_base_model_name text, p_owner text)
RETURNS SETOF model_registry_entries
LANGUAGE sql SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT * FROM model_registry_entries
     WHERE environment = p_environment AND base_model_name = p_base_model_name
       AND (p_owner IS NULL OR owner_stack = p_owner)
     ORDER BY id FOR UPDATE;
$$;
REVOKE ALL ON FUNCTION vllm_platform_registry_adapter_rows(text, text, text) FROM PUBLIC;

-- register (0006) learns the adapter columns: the old signature goes (a second overload would
-- make named calls ambiguous). During a rollout an adapter's base and revision are served
-- fields like the image: recorded only with the rollout's own smoke Job.
DROP FUNCTION IF EXISTS vllm_platform_registry_register(
    text, text, text, boolean, text, text, text, text, text, integer, text, integer, integer, text,
    text, text, text, text, text);
CREATE FUNCTION vllm_platform_registry_register(
    p_model_name text, p_environment text, p_endpoint_url text, p_routing_enabled boolean,
    p_namespace text, p_deployment_name text, p_image text, p_hf_model_id text,
    p_model_revision text, p_max_model_len integer, p_gpu_type text, p_gpus_per_replica integer,
    p_replicas integer, p_stack text,
    p_health_status text DEFAULT 'healthy', p_change_kind text DEFAULT 'deploy',
    p_note text DEFAULT NULL, p_owner text DEFAULT NULL, p_evidence text DEFAULT NULL,
    p_base_model_name text DEFAULT NULL, p_adapter_hf_repo text DEFAULT NULL,
    p_adapter_revision text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, p_owner);
    spec jsonb := jsonb_build_object(
        'model_name', p_model_name, 'environment', p_environment,
        'endpoint_url', p_endpoint_url, 'routing_enabled', p_routing_enabled,
        'namespace', p_namespace, 'deployment_name', p_deployment_name, 'image', p_image,
        'hf_model_id', p_hf_model_id, 'model_revision', p_model_revision,
        'max_model_len', p_max_model_len, 'gpu_type', p_gpu_type,
        'gpus_per_replica', p_gpus_per_replica, 'replicas', p_replicas, 'stack', p_stack,
        'base_model_name', p_base_model_name, 'adapter_hf_repo', p_adapter_hf_repo,
        'adapter_revision', p_adapter_revision);
    r model_registry_entries%ROWTYPE;
    health text := p_health_status;
    wanted jsonb;
    changes jsonb;
    action_ text;
BEGIN
    IF p_change_kind IS NULL OR p_change_kind NOT IN ('deploy', 'rollback') THEN
        RAISE EXCEPTION 'change_kind must be one of deploy, rollback, got %', p_change_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF health IS NOT NULL AND health NOT IN ('unknown', 'deploying', 'healthy', 'unhealthy',
                                             'retired', 'rolling_out', 'rollout_failed') THEN
        RAISE EXCEPTION 'health_status must be a registry state, got %', health
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR attempt IN 1..2 LOOP
        SELECT * INTO r FROM model_registry_entries
         WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO model_registry_entries (
                model_name, environment, endpoint_url, routing_enabled, namespace,
                deployment_name, image, hf_model_id, model_revision, max_model_len, gpu_type,
                gpus_per_replica, replicas, stack, health_status, owner_stack, smoke_job,
                base_model_name, adapter_hf_repo, adapter_revision, created_at, updated_at)
            VALUES (
                p_model_name, p_environment, p_endpoint_url, p_routing_enabled, p_namespace,
                p_deployment_name, p_image, p_hf_model_id, p_model_revision, p_max_model_len,
                p_gpu_type, p_gpus_per_replica, p_replicas, p_stack, coalesce(health, 'unknown'),
                owner_, CASE WHEN health = 'healthy' THEN p_evidence END,
                p_base_model_name, p_adapter_hf_repo, p_adapter_revision, now(), now())
            ON CONFLICT (environment, model_name) DO NOTHING
            RETURNING * INTO r;
            IF NOT FOUND THEN
                CONTINUE;
            END IF;
            action_ := CASE WHEN p_change_kind = 'rollback' THEN 'rolled_back' ELSE 'registered' END;
            INSERT INTO model_registry_events (entry_id, action, old_values, new_values, stack, note)
            VALUES (r.id, action_, NULL,
                    jsonb_strip_nulls(spec) || jsonb_build_object('health_status', r.health_status),
                    p_stack, p_note);
            RETURN action_;
        END IF;
        wanted := (spec - 'environment' - 'model_name')
                  || jsonb_build_object('retired_at', NULL, 'legacy_row', false);
        IF vllm_platform_registry_check_owner(r, owner_, 'update') THEN
            wanted := wanted || jsonb_build_object('owner_stack', owner_);
        END IF;
        IF r.health_status IN ('rolling_out', 'rollout_failed') THEN
            IF p_evidence IS NOT NULL AND p_evidence = r.target_smoke_job THEN
                wanted := wanted || jsonb_build_object(
                    'target_image', NULL, 'target_revision', NULL, 'target_smoke_job', NULL,
                    'rollout_started_at', NULL, 'rollout_deadline_at', NULL);
                health := 'healthy';
            ELSE
                wanted := wanted - 'image' - 'hf_model_id' - 'model_revision' - 'max_model_len'
                          - 'gpu_type' - 'gpus_per_replica' - 'replicas'
                          - 'base_model_name' - 'adapter_hf_repo' - 'adapter_revision';
                health := NULL;
            END IF;
        END IF;
        IF health IS NOT NULL THEN
            wanted := wanted || jsonb_build_object('health_status', health);
        ELSIF r.health_status = 'retired' THEN
            wanted := wanted || jsonb_build_object('health_status', 'unknown', 'smoke_job', NULL);
        END IF;
        IF health IS NULL AND r.health_status = 'unhealthy' AND r.routing_enabled = false THEN
            wanted := wanted || jsonb_build_object('routing_enabled', false);
        END IF;
        IF wanted ->> 'health_status' = 'healthy' THEN
            wanted := wanted || jsonb_build_object('consecutive_failures', 0);
            IF p_evidence IS NOT NULL THEN
                wanted := wanted || jsonb_build_object('smoke_job', p_evidence);
            END IF;
        END IF;
        changes := vllm_platform_registry_changed(r, wanted);
        IF changes = '{}'::jsonb THEN
            RETURN NULL;
        END IF;
        action_ := CASE WHEN p_change_kind = 'rollback' THEN 'rolled_back'
                        WHEN r.health_status = 'retired' THEN 'reactivated'
                        ELSE 'updated' END;
        PERFORM vllm_platform_registry_write(r, changes, action_, p_stack, p_note);
        RETURN action_;
    END LOOP;
    RAISE EXCEPTION 'registry entry %/% could be neither inserted nor found',
        p_environment, p_model_name;
END
$$;

-- 0006's begin_rollout rule for one locked row (the model's own or one of its adapters').
CREATE OR REPLACE FUNCTION vllm_platform_registry_begin_row(
    r model_registry_entries, p_image text, p_revision text, p_smoke_job text,
    p_deadline_seconds integer, p_stack text, p_note text)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    rolling boolean := r.health_status IN ('rolling_out', 'rollout_failed');
BEGIN
    IF r.health_status = 'retired' OR (NOT rolling AND r.smoke_job IS NOT DISTINCT FROM p_smoke_job)
    THEN
        RETURN NULL;
    END IF;
    IF NOT rolling AND r.smoke_job IS NULL
       AND r.image IS NOT DISTINCT FROM p_image AND r.model_revision IS NOT DISTINCT FROM p_revision
    THEN
        IF r.health_status <> 'healthy' THEN
            RETURN NULL;
        END IF;
        PERFORM vllm_platform_registry_write(
            r, jsonb_build_object('smoke_job', p_smoke_job), 'updated', p_stack,
            coalesce(p_note, 'smoke evidence recorded for the image and revision served'));
        RETURN 'updated';
    END IF;
    PERFORM vllm_platform_registry_write(
        r, jsonb_build_object(
            'health_status', 'rolling_out', 'target_image', p_image,
            'target_revision', p_revision, 'target_smoke_job', p_smoke_job,
            'rollout_started_at', now(),
            'rollout_deadline_at', now() + make_interval(secs => p_deadline_seconds)),
        'rollout_started', p_stack, p_note);
    RETURN 'rollout_started';
END
$$;
REVOKE ALL ON FUNCTION vllm_platform_registry_begin_row(
    model_registry_entries, text, text, text, integer, text, text) FROM PUBLIC;

-- begin_rollout (0006), for the model's row and then its adapter rows: the same target, smoke
-- Job (it covers every adapter) and deadline. Returns the model's own row's action.
CREATE OR REPLACE FUNCTION vllm_platform_registry_begin_rollout(
    p_environment text, p_model_name text, p_image text, p_revision text, p_smoke_job text,
    p_deadline_seconds integer, p_owner text, p_stack text, p_note text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, p_owner);
    r model_registry_entries%ROWTYPE;
    a model_registry_entries%ROWTYPE;
    action_ text;
BEGIN
    IF p_deadline_seconds IS NULL OR p_deadline_seconds < 1 THEN
        RAISE EXCEPTION 'deadline_seconds must be positive'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO r FROM model_registry_entries
     WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
    IF FOUND THEN
        PERFORM vllm_platform_registry_check_owner(r, owner_, 'roll out');
        action_ := vllm_platform_registry_begin_row(
            r, p_image, p_revision, p_smoke_job, p_deadline_seconds, p_stack, p_note);
    END IF;
    FOR a IN SELECT * FROM vllm_platform_registry_adapter_rows(p_environment, p_model_name, owner_)
    LOOP
        PERFORM vllm_platform_registry_begin_row(
            a, p_image, p_revision, p_smoke_job, p_deadline_seconds, p_stack,
            coalesce(p_note, format('rollout of its base model %s', p_model_name)));
    END LOOP;
    RETURN action_;
END
$$;

-- fail_rollout (0006), for the model's row and its adapter rows that are `rolling_out`; the
-- model's own row's action, else `rollout_failed` when an adapter row was marked.
CREATE OR REPLACE FUNCTION vllm_platform_registry_fail_rollout(
    p_environment text, p_model_name text, p_owner text, p_stack text, p_note text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, p_owner);
    r model_registry_entries%ROWTYPE;
    a model_registry_entries%ROWTYPE;
    action_ text;
BEGIN
    SELECT * INTO r FROM model_registry_entries
     WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
    IF FOUND THEN
        PERFORM vllm_platform_registry_check_owner(r, owner_, 'fail the rollout of');
        IF r.health_status = 'rolling_out' THEN
            PERFORM vllm_platform_registry_write(
                r, jsonb_build_object('health_status', 'rollout_failed'), 'rollout_failed',
                p_stack, p_note);
            action_ := 'rollout_failed';
        END IF;
    END IF;
    FOR a IN SELECT * FROM vllm_platform_registry_adapter_rows(p_environment, p_model_name, owner_)
    LOOP
        CONTINUE WHEN a.health_status <> 'rolling_out';
        PERFORM vllm_platform_registry_write(
            a, jsonb_build_object('health_status', 'rollout_failed'), 'rollout_failed',
            p_stack, p_note);
        action_ := 'rollout_failed';
    END LOOP;
    RETURN action_;
END
$$;

-- 0006's report_health rule for one locked row: the probe's result, flap damping, rollouts kept.
CREATE OR REPLACE FUNCTION vllm_platform_registry_report_row(
    r model_registry_entries, p_status text, p_disable_routing boolean, threshold integer,
    p_note text)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    failures integer;
    give_up boolean;
    new_status text;
    new_routing boolean;
    changed boolean;
BEGIN
    failures := CASE WHEN p_status = 'healthy' THEN 0
                     ELSE least(r.consecutive_failures, 1000000) + 1 END;
    give_up := p_status = 'unhealthy' AND failures >= threshold;
    new_status := CASE WHEN r.health_status = 'rolling_out' THEN r.health_status
                       WHEN p_status = 'healthy' AND r.health_status = 'unhealthy'
                           THEN CASE WHEN r.smoke_job IS NOT NULL THEN 'healthy' ELSE 'unknown' END
                       WHEN give_up THEN 'unhealthy'
                       ELSE r.health_status END;
    new_routing := r.routing_enabled
                   AND NOT (give_up AND coalesce(p_disable_routing, false)
                            AND r.health_status <> 'rolling_out');
    UPDATE model_registry_entries
       SET health_status = new_status, consecutive_failures = failures,
           last_health_check_at = now(), routing_enabled = new_routing
     WHERE id = r.id;
    changed := new_status <> r.health_status OR new_routing <> r.routing_enabled;
    IF changed THEN
        INSERT INTO model_registry_events (entry_id, action, old_values, new_values, note)
        VALUES (r.id, 'health_changed',
                jsonb_strip_nulls(jsonb_build_object(
                    'health_status', CASE WHEN new_status <> r.health_status THEN r.health_status END,
                    'routing_enabled', CASE WHEN new_routing <> r.routing_enabled
                                            THEN r.routing_enabled END)),
                jsonb_strip_nulls(jsonb_build_object(
                    'health_status', CASE WHEN new_status <> r.health_status THEN new_status END,
                    'routing_enabled', CASE WHEN new_routing <> r.routing_enabled
                                            THEN new_routing END)),
                'health-reporter: ' || p_note);
    END IF;
    RETURN CASE WHEN new_status <> r.health_status THEN 'changed from ' || r.health_status
                ELSE 'unchanged' END
        || CASE WHEN new_routing <> r.routing_enabled THEN ', routing turned off' ELSE '' END
        || CASE WHEN failures > 0 AND new_status = 'rolling_out'
                THEN format(', rolling out, failed probe %s in a row', failures)
                WHEN failures > 0 AND new_status <> 'unhealthy'
                THEN format(', failed probe %s of %s', failures, threshold) ELSE '' END
        || CASE WHEN changed THEN ', event recorded' ELSE '' END;
END
$$;
REVOKE ALL ON FUNCTION vllm_platform_registry_report_row(
    model_registry_entries, text, boolean, integer, text) FROM PUBLIC;

-- report_health (0006): the probe of a model is the probe of its adapters (the same pods answer
-- both), so the same rule is applied to the model's row and then to its adapter rows of the
-- caller's stack. Returns what happened to the model's own row (NULL: no row touched).
CREATE OR REPLACE FUNCTION vllm_platform_registry_report_health(
    p_environment text, p_owner text, p_model_name text, p_status text,
    p_disable_routing boolean, p_threshold integer, p_note text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, p_owner);
    threshold integer := greatest(coalesce(p_threshold, 1), 1);
    r model_registry_entries%ROWTYPE;
    result text;
BEGIN
    IF owner_ IS NULL OR p_status IS NULL OR p_status NOT IN ('healthy', 'unhealthy') THEN
        RETURN NULL;
    END IF;
    FOR r IN
        SELECT * FROM model_registry_entries
         WHERE environment = p_environment
           AND (model_name = p_model_name OR base_model_name = p_model_name)
           AND health_status IN ('unknown', 'healthy', 'unhealthy', 'rolling_out')
           AND (owner_stack = owner_
                OR (owner_stack IS NULL AND base_model_name IS NULL
                    AND (stack IS NULL OR stack = regexp_replace(owner_, '^.*/', ''))))
         ORDER BY (model_name <> p_model_name), id
           FOR UPDATE
    LOOP
        IF r.model_name = p_model_name THEN
            result := vllm_platform_registry_report_row(
                r, p_status, p_disable_routing, threshold, p_note);
        ELSE
            PERFORM vllm_platform_registry_report_row(
                r, p_status, p_disable_routing, threshold,
                format('%s (its base model %s)', p_note, p_model_name));
        END IF;
    END LOOP;
    RETURN result;
END
$$;
