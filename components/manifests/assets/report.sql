-- One health observation of one model, applied by the health reporter as the registry writer.
--
-- Run by reporter.sh once per model inside one psql session (`\set name ...` then `\i
-- report.sql`), or directly as `psql -v env=... -v owner=... -v name=... -v status=...
-- -v disable_routing=... -v threshold=... -v note=... -f report.sql`; every value is interpolated as a quoted literal
-- (:'var'), so no value is ever parsed as SQL. It is one statement: it applies entirely or not
-- at all, and a failure (a bad row, a trigger, a lock wait past lock_timeout) affects only it.
--
--   env              the environment (development | staging | production)
--   owner            the reporter's stack, <project>/<stack>: only a row it owns is touched
--                    (owner_stack = owner), or a row from before ownership that the owner's
--                    stack would claim (owner_stack NULL and stack NULL or the owner's stack
--                    name: the store's claim rule), so a canary or a copy of a stack in the
--                    same environment never writes the health or routing of another's entry
--   name             the model name
--   status           healthy | unhealthy (anything else matches no row)
--   disable_routing  true: marking a model unhealthy also sets routing_enabled = false
--   threshold        failed probes in a row before the model is marked unhealthy (>= 1)
--   note             what was observed, e.g. "/health answered HTTP 503"
--
-- Rules: only rows whose health is unknown, healthy, unhealthy or rolling_out are touched
-- ("deploying", "rollout_failed" and "retired" belong to `pulumi up`); the status of a
-- rolling_out row is never changed (a passing probe does not say which pods answered, so it is
-- never evidence for the new revision, and a failing one may be a single replica still loading
-- the new revision), only its last_health_check_at and consecutive_failures are recorded (and its
-- routing is left alone); the reporter's session applies the rollout deadline rule separately,
-- via vllm_platform_registry_expire_rollouts; last_health_check_at is set on every observation;
-- a passing probe resets consecutive_failures; it never makes healthy a row without smoke
-- evidence: healthy stays healthy, unknown stays unknown, unhealthy recovers to healthy only
-- when smoke_job (the Job that passed for what is recorded) is set, else to unknown; a failing one
-- counts, and the model is marked unhealthy (and, with disable_routing, taken out of routing)
-- only once the count reaches the threshold (flap damping); routing can only be turned off, never
-- on; an event is written only when the row's status (or its routing) changed, with the changed
-- columns as old_values/new_values, like the registry store.
-- Prints one line per touched row (none when the model has no such row).
WITH observed AS (
    SELECT :'env'::text AS environment,
           :'owner'::text AS owner,
           :'name'::text AS model_name,
           :'status'::text AS status,
           :'disable_routing'::boolean AS disable_routing,
           greatest(:'threshold'::integer, 1) AS threshold,
           :'note'::text AS note
), previous AS (
    SELECT e.id, e.health_status, e.routing_enabled, e.smoke_job IS NOT NULL AS tested,
           CASE WHEN o.status = 'healthy' THEN 0
                ELSE least(e.consecutive_failures, 1000000) + 1 END AS failures,
           o.status = 'unhealthy'
               AND least(e.consecutive_failures, 1000000) + 1 >= o.threshold AS give_up
      FROM model_registry_entries AS e
      JOIN observed AS o
        ON e.environment = o.environment AND e.model_name = o.model_name
     WHERE e.health_status IN ('unknown', 'healthy', 'unhealthy', 'rolling_out')
       AND o.status IN ('healthy', 'unhealthy')
       AND (e.owner_stack = o.owner
            OR (e.owner_stack IS NULL
                AND (e.stack IS NULL OR e.stack = regexp_replace(o.owner, '^.*/', ''))))
       FOR UPDATE OF e
), updated AS (
    UPDATE model_registry_entries AS e
       SET health_status = CASE WHEN e.health_status = 'rolling_out' THEN e.health_status
                                WHEN o.status = 'healthy' AND e.health_status = 'healthy'
                                    THEN 'healthy'
                                WHEN o.status = 'healthy' AND e.health_status = 'unhealthy'
                                    THEN CASE WHEN p.tested THEN 'healthy' ELSE 'unknown' END
                                WHEN p.give_up THEN 'unhealthy'
                                ELSE e.health_status END,
           consecutive_failures = p.failures,
           last_health_check_at = now(),
           routing_enabled = e.routing_enabled
                             AND NOT (p.give_up AND o.disable_routing
                                      AND e.health_status <> 'rolling_out')
      FROM previous AS p, observed AS o
     WHERE e.id = p.id
 RETURNING e.id,
           p.health_status AS old_status,
           e.health_status AS new_status,
           p.routing_enabled AS old_routing,
           e.routing_enabled AS new_routing,
           e.consecutive_failures AS failures
), event AS (
    INSERT INTO model_registry_events (entry_id, action, old_values, new_values, note)
    SELECT u.id,
           'health_changed',
           jsonb_strip_nulls(jsonb_build_object(
               'health_status', CASE WHEN u.old_status <> u.new_status THEN u.old_status END,
               'routing_enabled', CASE WHEN u.old_routing <> u.new_routing THEN u.old_routing END)),
           jsonb_strip_nulls(jsonb_build_object(
               'health_status', CASE WHEN u.old_status <> u.new_status THEN u.new_status END,
               'routing_enabled', CASE WHEN u.old_routing <> u.new_routing THEN u.new_routing END)),
           'health-reporter: ' || o.note
      FROM updated AS u, observed AS o
     WHERE u.old_status <> u.new_status OR u.old_routing <> u.new_routing
    RETURNING entry_id
)
SELECT CASE WHEN u.old_status <> u.new_status
            THEN 'changed from ' || u.old_status
            ELSE 'unchanged' END
       || CASE WHEN u.old_routing <> u.new_routing THEN ', routing turned off' ELSE '' END
       || CASE WHEN u.failures > 0 AND u.new_status = 'rolling_out'
               THEN format(', rolling out, failed probe %s in a row', u.failures)
               WHEN u.failures > 0 AND u.new_status <> 'unhealthy'
               THEN format(', failed probe %s of %s', u.failures, o.threshold) ELSE '' END
       || CASE WHEN EXISTS (SELECT 1 FROM event) THEN ', event recorded' ELSE '' END
  FROM updated AS u, observed AS o;
