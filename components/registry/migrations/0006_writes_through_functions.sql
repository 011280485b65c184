-- Ownership enforced by PostgreSQL: writer roles write nothing directly. Every write goes through
-- the SECURITY DEFINER functions below (the one home of the registry's state machine), which run
-- with the rights of the schema owner that created them, take the caller's identity from
-- session_user (a SET ROLE does not change it) and its environment and stack from
-- vllm_platform_registry_writers, which only the owner can change. The events table is written
-- only by them. Written after "Writing SECURITY DEFINER Functions Safely"
-- (https://www.postgresql.org/docs/current/sql-createfunction.html#SQL-CREATEFUNCTION-SECURITY):
-- search_path pinned with pg_temp last, helpers not executable by PUBLIC.

-- Which environment and stack each writer role writes for. A role not listed may call nothing,
-- unless it is a member of the schema owner (the owner's own `ops` commands and tests).
CREATE TABLE IF NOT EXISTS vllm_platform_registry_writers (
    role_name name PRIMARY KEY,
    environment text NOT NULL
        CHECK (environment IN ('development', 'staging', 'production')),
    owner_stack text NOT NULL CHECK (owner_stack ~ '^[^/[:space:]]+(/[^/[:space:]]+)+$'),
    bound_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON vllm_platform_registry_writers FROM PUBLIC;

-- No direct write for anyone but the owner: what earlier grants gave (the writer role had
-- INSERT/UPDATE on the entries, INSERT on the events, USAGE on their sequences) is taken back
-- here, so a database migrated outside `pulumi up` is closed too. Without UPDATE, DELETE or
-- TRUNCATE a role can LOCK a table only in ACCESS SHARE mode and cannot SELECT ... FOR UPDATE.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT DISTINCT c.oid::regclass AS rel, c.relkind, a.grantee
          FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.oid IN (SELECT to_regclass(n) FROM unnest(ARRAY[
                   'model_registry_entries', 'model_registry_events',
                   'model_registry_entries_id_seq', 'model_registry_events_id_seq']) AS n)
           AND a.grantee <> c.relowner
           AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER',
                                    'REFERENCES', 'USAGE')
    LOOP
        EXECUTE format('REVOKE %s ON %s %s FROM %s',
                       CASE WHEN g.relkind = 'S' THEN 'USAGE, UPDATE'
                            ELSE 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES' END,
                       CASE WHEN g.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                       g.rel,
                       CASE WHEN g.grantee = 0 THEN 'PUBLIC'
                            ELSE quote_ident(pg_get_userbyid(g.grantee)) END);
        RAISE NOTICE 'revoked direct writes on % from %', g.rel,
            CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END;
    END LOOP;
END
$$;

-- Owner only (not executable by PUBLIC): bind a writer role to one environment and stack.
CREATE OR REPLACE FUNCTION vllm_platform_registry_bind_writer(
    p_role name, p_environment text, p_owner_stack text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, public, pg_temp AS $$
    INSERT INTO vllm_platform_registry_writers (role_name, environment, owner_stack)
    VALUES (p_role, p_environment, p_owner_stack)
    ON CONFLICT (role_name) DO UPDATE
       SET environment = EXCLUDED.environment, owner_stack = EXCLUDED.owner_stack,
           bound_at = now()
     WHERE (vllm_platform_registry_writers.environment, vllm_platform_registry_writers.owner_stack)
           IS DISTINCT FROM (EXCLUDED.environment, EXCLUDED.owner_stack);
$$;

CREATE OR REPLACE FUNCTION vllm_platform_registry_unbind_writer(p_role name) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, public, pg_temp AS $$
    DELETE FROM vllm_platform_registry_writers WHERE role_name = p_role;
$$;

-- The stack a call writes for. A bound role: its own (the environment must be its own, and an
-- owner it names must be its own). A member of the schema owner (current_user inside a SECURITY
-- DEFINER function is the owner; session_user is who logged in): p_owner as given (NULL: not
-- checked). Anyone else is refused.
CREATE OR REPLACE FUNCTION vllm_platform_registry_caller(p_environment text, p_owner text)
RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    b vllm_platform_registry_writers%ROWTYPE;
BEGIN
    SELECT * INTO b FROM vllm_platform_registry_writers WHERE role_name = session_user;
    IF FOUND THEN
        IF p_environment IS DISTINCT FROM b.environment THEN
            RAISE EXCEPTION 'registry writer % writes environment %, not %',
                session_user, b.environment, coalesce(p_environment, 'every environment')
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF p_owner IS NOT NULL AND p_owner IS DISTINCT FROM b.owner_stack THEN
            RAISE EXCEPTION 'registry writer % writes for stack %, not %',
                session_user, b.owner_stack, p_owner
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN b.owner_stack;
    END IF;
    IF pg_has_role(session_user, current_user, 'MEMBER') THEN
        RETURN p_owner;
    END IF;
    RAISE EXCEPTION 'role % is not a registry writer (no row in vllm_platform_registry_writers)',
        session_user USING ERRCODE = 'insufficient_privilege';
END
$$;

-- True: the caller may write the row and claims it (written before ownership, naming the
-- caller's stack or no stack); false: it may write it; otherwise SQLSTATE VPOWN (OwnershipError).
CREATE OR REPLACE FUNCTION vllm_platform_registry_check_owner(
    r model_registry_entries, p_owner text, p_doing text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_owner IS NULL OR r.owner_stack = p_owner THEN
        RETURN false;
    END IF;
    IF r.owner_stack IS NULL AND (r.stack IS NULL OR r.stack = regexp_replace(p_owner, '^.*/', ''))
    THEN
        RETURN true;
    END IF;
    RAISE EXCEPTION 'registry entry %/% belongs to %, not %: refusing to % it. If % should own '
        'it, hand it over on purpose with `python -m ops registry adopt --environment % --model % '
        '--owner % --reason ...`; if this stack''s environment or model name is a mistake, fix the '
        'stack''s config',
        r.environment, r.model_name,
        coalesce(r.owner_stack, format('stack %L (unclaimed)', r.stack)), p_owner, p_doing,
        p_owner, r.environment, r.model_name, p_owner
        USING ERRCODE = 'VPOWN';
END
$$;

-- UPDATE the columns of `changes` of the locked row `r` and record `action` with their old and
-- new values. The only writer of model_registry_events besides report_health and the expiry.
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
        'target_smoke_job', 'rollout_started_at', 'rollout_deadline_at'];
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

-- Only what differs from the row (now() counts as a change, as the store did).
CREATE OR REPLACE FUNCTION vllm_platform_registry_changed(r model_registry_entries, wanted jsonb)
RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce(jsonb_object_agg(w.key, w.value), '{}'::jsonb)
      FROM jsonb_each(wanted) AS w
     WHERE to_jsonb(r) -> w.key IS DISTINCT FROM w.value;
$$;

-- register: insert, re-activate a retired row, or update in place; the new row's action (NULL:
-- nothing written). A row in a rollout state is settled only by the target's smoke Job.
CREATE OR REPLACE FUNCTION vllm_platform_registry_register(
    p_model_name text, p_environment text, p_endpoint_url text, p_routing_enabled boolean,
    p_namespace text, p_deployment_name text, p_image text, p_hf_model_id text,
    p_model_revision text, p_max_model_len integer, p_gpu_type text, p_gpus_per_replica integer,
    p_replicas integer, p_stack text,
    p_health_status text DEFAULT 'healthy', p_change_kind text DEFAULT 'deploy',
    p_note text DEFAULT NULL, p_owner text DEFAULT NULL, p_evidence text DEFAULT NULL)
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
        'gpus_per_replica', p_gpus_per_replica, 'replicas', p_replicas, 'stack', p_stack);
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
    -- Two rounds at most: a concurrent first registration of the same key makes our INSERT do
    -- nothing, and the second round then finds (and locks) the committed row.
    FOR attempt IN 1..2 LOOP
        SELECT * INTO r FROM model_registry_entries
         WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
        IF NOT FOUND THEN
            -- created_at/updated_at are set here, not left to defaults: a legacy table keeps
            -- its own defaults.
            INSERT INTO model_registry_entries (
                model_name, environment, endpoint_url, routing_enabled, namespace,
                deployment_name, image, hf_model_id, model_revision, max_model_len, gpu_type,
                gpus_per_replica, replicas, stack, health_status, owner_stack, smoke_job,
                created_at, updated_at)
            VALUES (
                p_model_name, p_environment, p_endpoint_url, p_routing_enabled, p_namespace,
                p_deployment_name, p_image, p_hf_model_id, p_model_revision, p_max_model_len,
                p_gpu_type, p_gpus_per_replica, p_replicas, p_stack, coalesce(health, 'unknown'),
                owner_, CASE WHEN health = 'healthy' THEN p_evidence END, now(), now())
            ON CONFLICT (environment, model_name) DO NOTHING
            RETURNING * INTO r;
            IF NOT FOUND THEN
                CONTINUE;
            END IF;
            action_ := CASE WHEN p_change_kind = 'rollback' THEN 'rolled_back' ELSE 'registered' END;
            INSERT INTO model_registry_events (entry_id, action, old_values, new_values, stack, note)
            VALUES (r.id, action_, NULL, spec || jsonb_build_object('health_status', r.health_status),
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
                -- The rollout's own smoke Job passed: the target is recorded, the row healthy.
                wanted := wanted || jsonb_build_object(
                    'target_image', NULL, 'target_revision', NULL, 'target_smoke_job', NULL,
                    'rollout_started_at', NULL, 'rollout_deadline_at', NULL);
                health := 'healthy';
            ELSE
                -- Anything else keeps the last tested served fields and the rollout state.
                wanted := wanted - 'image' - 'hf_model_id' - 'model_revision' - 'max_model_len'
                          - 'gpu_type' - 'gpus_per_replica' - 'replicas';
                health := NULL;
            END IF;
        END IF;
        IF health IS NOT NULL THEN
            wanted := wanted || jsonb_build_object('health_status', health);
        ELSIF r.health_status = 'retired' THEN
            -- The tested pods are gone: no smoke evidence (report_health relies on it).
            wanted := wanted || jsonb_build_object('health_status', 'unknown', 'smoke_job', NULL);
        END IF;
        IF health IS NULL AND r.health_status = 'unhealthy' AND r.routing_enabled = false THEN
            -- Taken out of routing for failing probes: without new evidence (a passed smoke
            -- test) a registration does not route it again.
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

-- retire: out of routing, `retired`, the row and its history stay (a rollout ends with it).
CREATE OR REPLACE FUNCTION vllm_platform_registry_retire(
    p_environment text, p_model_name text, p_stack text, p_note text, p_owner text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, p_owner);
    r model_registry_entries%ROWTYPE;
    changes jsonb := jsonb_build_object(
        'routing_enabled', false, 'health_status', 'retired', 'retired_at', now());
BEGIN
    SELECT * INTO r FROM model_registry_entries
     WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_check_owner(r, owner_, 'retire');
    IF r.health_status = 'retired' THEN
        RETURN NULL;
    END IF;
    SELECT changes || coalesce(jsonb_object_agg(c, NULL), '{}'::jsonb) INTO changes
      FROM unnest(ARRAY['target_image', 'target_revision', 'target_smoke_job',
                        'rollout_started_at', 'rollout_deadline_at']) AS c
     WHERE to_jsonb(r) -> c <> 'null'::jsonb;
    PERFORM vllm_platform_registry_write(r, changes, 'retired', p_stack, p_note);
    RETURN 'retired';
END
$$;

-- reactivate: a retired row comes back (health as given, never `retired`; routing as given).
CREATE OR REPLACE FUNCTION vllm_platform_registry_reactivate(
    p_environment text, p_model_name text, p_stack text, p_note text, p_health_status text,
    p_routing_enabled boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, NULL);
    r model_registry_entries%ROWTYPE;
    changes jsonb := jsonb_build_object('health_status', p_health_status, 'retired_at', NULL,
                                        'routing_enabled', p_routing_enabled);
BEGIN
    IF p_health_status IS NULL OR p_health_status = 'retired' THEN
        RAISE EXCEPTION 'reactivate needs a health status other than retired'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO r FROM model_registry_entries
     WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
    IF NOT FOUND OR r.health_status <> 'retired' THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_check_owner(r, owner_, 'reactivate');
    IF p_health_status <> 'healthy' AND r.smoke_job IS NOT NULL THEN
        changes := changes || jsonb_build_object('smoke_job', NULL);
    END IF;
    PERFORM vllm_platform_registry_write(r, changes, 'reactivated', p_stack, p_note);
    RETURN 'reactivated';
END
$$;

-- adopt: hand the row over to another stack on purpose. The schema owner's only: a writer
-- role cannot take over a row, not even in its own environment.
CREATE OR REPLACE FUNCTION vllm_platform_registry_adopt(
    p_environment text, p_model_name text, p_owner text, p_note text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    r model_registry_entries%ROWTYPE;
BEGIN
    IF NOT pg_has_role(session_user, current_user, 'MEMBER') THEN
        RAISE EXCEPTION 'only the registry''s owner (%) may hand entries over, not %',
            current_user, session_user USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_owner IS NULL OR p_owner !~ '^[^/[:space:]]+(/[^/[:space:]]+)+$' THEN
        RAISE EXCEPTION 'owner must look like <project>/<stack>, got %', p_owner
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO r FROM model_registry_entries
     WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
    IF NOT FOUND OR r.owner_stack = p_owner THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_write(r, jsonb_build_object('owner_stack', p_owner), 'adopted',
                                         regexp_replace(p_owner, '^.*/', ''), p_note);
    RETURN 'adopted';
END
$$;

-- begin_rollout: `rolling_out` towards a target before the update changes any pod. NULL when
-- there is no row or nothing untested will serve; `updated` when a row from before 0005
-- already serving the target records its Job as evidence.
CREATE OR REPLACE FUNCTION vllm_platform_registry_begin_rollout(
    p_environment text, p_model_name text, p_image text, p_revision text, p_smoke_job text,
    p_deadline_seconds integer, p_owner text, p_stack text, p_note text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, p_owner);
    r model_registry_entries%ROWTYPE;
    rolling boolean;
BEGIN
    IF p_deadline_seconds IS NULL OR p_deadline_seconds < 1 THEN
        RAISE EXCEPTION 'deadline_seconds must be positive'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO r FROM model_registry_entries
     WHERE environment = p_environment AND model_name = p_model_name FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_check_owner(r, owner_, 'roll out');
    rolling := r.health_status IN ('rolling_out', 'rollout_failed');
    IF r.health_status = 'retired' OR (NOT rolling AND r.smoke_job IS NOT DISTINCT FROM p_smoke_job)
    THEN
        RETURN NULL;
    END IF;
    IF NOT rolling AND r.smoke_job IS NULL
       AND r.image IS NOT DISTINCT FROM p_image AND r.model_revision IS NOT DISTINCT FROM p_revision
    THEN
        -- Written before 0005 and already serving the target: a healthy row was registered
        -- after its smoke test, so the target's Job is its evidence; another keeps its state.
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

-- fail_rollout: declare a `rolling_out` row's rollout failed now.
CREATE OR REPLACE FUNCTION vllm_platform_registry_fail_rollout(
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
    PERFORM vllm_platform_registry_check_owner(r, owner_, 'fail the rollout of');
    IF r.health_status <> 'rolling_out' THEN
        RETURN NULL;
    END IF;
    PERFORM vllm_platform_registry_write(
        r, jsonb_build_object('health_status', 'rollout_failed'), 'rollout_failed', p_stack, p_note);
    RETURN 'rollout_failed';
END
$$;

-- The expiry rule of 0005, now with the owner's rights: a bound writer applies it to its own
-- environment (NULL: its own), the owner to one or every environment.
CREATE OR REPLACE FUNCTION vllm_platform_registry_expire_rollouts(env text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    n integer;
    bound text;
BEGIN
    SELECT environment INTO bound FROM vllm_platform_registry_writers
     WHERE role_name = session_user;
    env := coalesce(env, bound);
    PERFORM vllm_platform_registry_caller(env, NULL);
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

-- report_health: one probe of one model by the caller's health reporter (README "Health
-- reporter" has the rules: flap damping, rolling_out keeps its status, no healthy without smoke
-- evidence, routing only ever turned off). Only the caller's stack's rows (or a row from before
-- ownership naming its stack) are touched. Returns what happened, NULL when no row was touched.
CREATE OR REPLACE FUNCTION vllm_platform_registry_report_health(
    p_environment text, p_owner text, p_model_name text, p_status text,
    p_disable_routing boolean, p_threshold integer, p_note text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_ text := vllm_platform_registry_caller(p_environment, p_owner);
    threshold integer := greatest(coalesce(p_threshold, 1), 1);
    r model_registry_entries%ROWTYPE;
    failures integer;
    give_up boolean;
    new_status text;
    new_routing boolean;
    changed boolean;
BEGIN
    IF owner_ IS NULL OR p_status IS NULL OR p_status NOT IN ('healthy', 'unhealthy') THEN
        RETURN NULL;
    END IF;
    SELECT * INTO r FROM model_registry_entries
     WHERE environment = p_environment AND model_name = p_model_name
       AND health_status IN ('unknown', 'healthy', 'unhealthy', 'rolling_out')
       AND (owner_stack = owner_
            OR (owner_stack IS NULL AND (stack IS NULL OR stack = regexp_replace(owner_, '^.*/', ''))))
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
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

-- The helpers act only inside the functions above; the owner-only functions are the owner's.
REVOKE ALL ON FUNCTION vllm_platform_registry_bind_writer(name, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION vllm_platform_registry_unbind_writer(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION vllm_platform_registry_caller(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION vllm_platform_registry_check_owner(model_registry_entries, text, text)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION vllm_platform_registry_write(model_registry_entries, jsonb, text, text, text)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION vllm_platform_registry_changed(model_registry_entries, jsonb) FROM PUBLIC;
