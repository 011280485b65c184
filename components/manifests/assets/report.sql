-- The health reporter's session: record every probe result as the registry writer.
--
-- Run by reporter.sh as `psql -v env=... -v owner=... -v disable_routing=... -v threshold=...
-- -v statement_timeout=... -v lock_timeout=... -f report.sql < results.tsv`. The variables come
-- from the CronJob's environment (validated by reporter.sh) and are quoted as literals (:'var').
-- The probe results (one "<name> TAB <healthy|unhealthy> TAB <note>" line per model, written
-- from what the curl container produced) arrive on psql's standard input and are read by
-- `\copy ... FROM pstdin` as COPY data: no byte of them is ever psql script text. Each result
-- is then one statement (`\gexec` sends the generated statements to the server as they are,
-- never as psql meta-commands, and format('%L') quotes every value), so a failure (a bad row, a
-- lock wait past lock_timeout) fails only its own model.
--
-- The rules (flap damping, rollouts, evidence, ownership) are vllm_platform_registry_report_health
-- (migration 0006). Prints "<name>|<what happened>" per model ("<name>|" when no row was touched).
SET statement_timeout = :'statement_timeout';
SET lock_timeout = :'lock_timeout';
CREATE TEMPORARY TABLE probe_result (
    line integer GENERATED ALWAYS AS IDENTITY,
    model_name text NOT NULL,
    status text NOT NULL,
    note text NOT NULL
);
\copy probe_result (model_name, status, note) FROM pstdin
-- A rollout still rolling_out past its deadline has failed (one rule, migration 0005/0006); not
-- scoped to the owner on purpose: it applies the deadline the owner's own `pulumi up` recorded.
SELECT vllm_platform_registry_expire_rollouts(:'env') \g /dev/null
-- A rollback target past its window is gone (one rule, migration 0007): its replicas go too.
SELECT vllm_platform_registry_expire_previous(:'env') \g /dev/null
SELECT format('SELECT %L, vllm_platform_registry_report_health(%L, %L, %L, %L, %L, %L, %L)',
              model_name, :'env', :'owner', model_name, status, :'disable_routing'::boolean,
              :'threshold'::integer, note)
  FROM probe_result
 ORDER BY line
\gexec
