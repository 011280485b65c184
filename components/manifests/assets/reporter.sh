#!/bin/sh
# vllm-platform health reporter: probe each model's /health, record the result in the registry.
#
#   reporter.sh probe    curl every model's /health (HR_PARALLEL at a time, each bounded by
#                        --max-time) and write one line per model, "<name> <healthy|unhealthy>
#                        <detail>", to the results file; needs curl and no credentials
#   reporter.sh report   apply all results in ONE psql session as the registry writer: the
#                        results go to psql as COPY data on its stdin (report.sql), never as
#                        script text; one statement per model, so a bad row fails only itself;
#                        connect, statement and lock timeouts bound the session
#   reporter.sh run      probe, then report (both tools in one image; used by the tests)
#
# A bad line of the models file or of the results affects only that model: it is logged and
# skipped, the others are probed and recorded, and the run exits 1 at the end.
#
# In the cluster `probe` runs in an init container (curl image) and `report` in the main
# container (PostgreSQL client image), so the database password is never in the container
# that talks to the model servers. Both are POSIX sh (busybox ash, dash, bash).
#
# Environment (set by the CronJob; defaults for the paths it mounts):
#   HR_CONFIG_DIR         directory holding `models` and report.sql  (/etc/health-reporter)
#   HR_RESULTS_DIR        directory shared by the two steps           (/results)
#   HR_TIMEOUT_SECONDS    curl --max-time per probe                   (3)
#   HR_PARALLEL           probes in flight at once (sliding window)   (16)
#   HR_ENVIRONMENT        registry environment of the models          (report: required)
#   HR_OWNER              the stack whose entries these are, <project>/<stack>; only rows it
#                         owns (or a pre-ownership row naming its stack) are written
#                                                                     (report: required)
#   HR_DISABLE_ROUTING    true: unhealthy also turns routing off      (false)
#   HR_FAILURE_THRESHOLD  failed probes in a row before unhealthy     (3)
#   HR_STATEMENT_TIMEOUT_MS  per statement (statement_timeout)        (5000)
#   HR_LOCK_TIMEOUT_MS    per row lock wait (lock_timeout)            (2000)
#   HR_PASSWORD_FILE      file holding the writer's password          (report: optional)
#   PGHOST PGPORT PGDATABASE PGUSER PGSSLMODE ...   libpq's own variables
#
# The `models` file has one "<name> <health url>" per line. Nothing here prints the password:
# it is only read into PGPASSWORD for psql, and tracing (set -x) is never turned on.
set -eu

HR_CONFIG_DIR=${HR_CONFIG_DIR:-/etc/health-reporter}
HR_RESULTS_DIR=${HR_RESULTS_DIR:-/results}
HR_TIMEOUT_SECONDS=${HR_TIMEOUT_SECONDS:-3}
HR_PARALLEL=${HR_PARALLEL:-16}
HR_DISABLE_ROUTING=${HR_DISABLE_ROUTING:-false}
HR_FAILURE_THRESHOLD=${HR_FAILURE_THRESHOLD:-3}
HR_STATEMENT_TIMEOUT_MS=${HR_STATEMENT_TIMEOUT_MS:-5000}
HR_LOCK_TIMEOUT_MS=${HR_LOCK_TIMEOUT_MS:-2000}
MODELS_FILE="$HR_CONFIG_DIR/models"
SQL_FILE="$HR_CONFIG_DIR/report.sql"
RESULTS_FILE="$HR_RESULTS_DIR/results"
REJECTED_FILE="$HR_RESULTS_DIR/rejected"

log() {
    printf 'health-reporter: %s\n' "$*"
}

fail() {
    printf 'health-reporter: error: %s\n' "$*" >&2
    exit 1
}

# A model name is a DNS label; anything else is logged and skipped (it affects only itself).
valid_name() {
    case $1 in
        '' | *[!a-z0-9-]*) return 1 ;;
    esac
    return 0
}

# reject WHAT: note a skipped line; `report` counts these as failures of the run.
reject() {
    log "skipped: $*"
    printf '%s\n' "$*" >>"$REJECTED_FILE"
}

check_number() {
    case $2 in
        '' | *[!0-9]*) fail "$1 must be a positive integer, got '$2'" ;;
    esac
    [ "$2" -gt 0 ] || fail "$1 must be a positive integer, got '$2'"
}

# probe_one NAME URL: print "NAME healthy|unhealthy DETAIL" (always succeeds).
probe_one() {
    rc=0
    code=$(curl --silent --output /dev/null --write-out '%{http_code}' \
        --max-time "$HR_TIMEOUT_SECONDS" --connect-timeout "$HR_TIMEOUT_SECONDS" \
        --noproxy '*' --proto '=http,https' -- "$2" 2>/dev/null) || rc=$?
    if [ "$rc" -eq 0 ] && [ "$code" = 200 ]; then
        printf '%s healthy http_%s\n' "$1" "$code"
    elif [ "$rc" -eq 0 ]; then
        printf '%s unhealthy http_%s\n' "$1" "$code"
    elif [ "$rc" -eq 28 ]; then
        printf '%s unhealthy timeout\n' "$1"
    else
        printf '%s unhealthy curl_exit_%s\n' "$1" "$rc"
    fi
}

probe() {
    [ -r "$MODELS_FILE" ] || fail "cannot read $MODELS_FILE"
    check_number HR_TIMEOUT_SECONDS "$HR_TIMEOUT_SECONDS"
    check_number HR_PARALLEL "$HR_PARALLEL"
    work="$HR_RESULTS_DIR/probes"
    rm -rf "$work"
    mkdir -p "$work"
    : >"$REJECTED_FILE"
    # A sliding window of HR_PARALLEL probes: a FIFO holds one token per free slot; a probe
    # takes one before it starts and gives it back when it ends, so one hanging endpoint holds
    # one slot for at most --max-time, never a whole batch.
    mkfifo "$work/slots"
    exec 3<>"$work/slots"
    rm -f "$work/slots"
    i=0
    while [ "$i" -lt "$HR_PARALLEL" ]; do
        printf '\n' >&3
        i=$((i + 1))
    done
    while read -r name url rest; do
        case $name in '' | '#'*) continue ;; esac
        if ! valid_name "$name"; then
            reject "bad model name in $MODELS_FILE: '$name'"
            continue
        fi
        if [ -z "$url" ] || [ -n "$rest" ]; then
            reject "bad line for $name in $MODELS_FILE"
            continue
        fi
        read -r _ <&3
        {
            probe_one "$name" "$url" >"$work/$name"
            printf '\n' >&3
        } &
    done <"$MODELS_FILE"
    wait
    exec 3>&-
    : >"$RESULTS_FILE.tmp"
    while read -r name url rest; do
        case $name in '' | '#'*) continue ;; esac
        valid_name "$name" && [ -n "$url" ] && [ -z "$rest" ] || continue
        if [ -s "$work/$name" ]; then
            cat "$work/$name" >>"$RESULTS_FILE.tmp"
        else
            printf '%s unhealthy no_result\n' "$name" >>"$RESULTS_FILE.tmp"
        fi
    done <"$MODELS_FILE"
    mv "$RESULTS_FILE.tmp" "$RESULTS_FILE"
    rm -rf "$work"
}

describe() {
    case $1 in
        http_*) printf '/health answered HTTP %s' "${1#http_}" ;;
        timeout) printf '/health did not answer within %ss' "$HR_TIMEOUT_SECONDS" ;;
        curl_exit_*) printf '/health unreachable (curl exit %s)' "${1#curl_exit_}" ;;
        no_result) printf 'the probe left no result' ;;
        *) printf '%s' "$1" ;;
    esac
}

# note DETAIL: describe DETAIL with [A-Za-z0-9 _./():-] only (whatever the probe wrote).
note() {
    describe "$1" | tr -cd 'A-Za-z0-9 _./():-'
}

report() {
    [ -n "${HR_ENVIRONMENT:-}" ] || fail "HR_ENVIRONMENT is not set"
    case $HR_ENVIRONMENT in *[!a-z]*) fail "HR_ENVIRONMENT must be lower-case letters" ;; esac
    # Quoted into psql as :'owner'; these characters never need (or break) quoting.
    case ${HR_OWNER:-} in
        /* | */ | *[!A-Za-z0-9._/-]*) fail "HR_OWNER must be <project>/<stack>" ;;
        ?*/?*) ;;
        *) fail "HR_OWNER must be <project>/<stack>, got '${HR_OWNER:-}'" ;;
    esac
    [ -r "$SQL_FILE" ] || fail "cannot read $SQL_FILE"
    [ -r "$RESULTS_FILE" ] || fail "no probe results in $RESULTS_FILE"
    case $HR_DISABLE_ROUTING in
        true | false) ;;
        *) fail "HR_DISABLE_ROUTING must be true or false" ;;
    esac
    check_number HR_FAILURE_THRESHOLD "$HR_FAILURE_THRESHOLD"
    check_number HR_STATEMENT_TIMEOUT_MS "$HR_STATEMENT_TIMEOUT_MS"
    check_number HR_LOCK_TIMEOUT_MS "$HR_LOCK_TIMEOUT_MS"
    if [ -n "${HR_PASSWORD_FILE:-}" ]; then
        [ -r "$HR_PASSWORD_FILE" ] || fail "cannot read the password file"
        PGPASSWORD=$(cat "$HR_PASSWORD_FILE")
        export PGPASSWORD
    fi
    work="$HR_RESULTS_DIR/report"
    rm -rf "$work"
    mkdir -p "$work"
    data="$work/results.tsv"
    : >"$data"
    # Only validated values reach psql, and only as COPY data (report.sql reads them from its
    # stdin with \copy ... FROM pstdin): DNS-label names, two statuses, notes of safe characters.
    tab=$(printf '\t')
    while read -r name status detail; do
        if ! valid_name "$name"; then
            reject "bad model name in $RESULTS_FILE: '$(printf '%s' "$name" | tr -cd 'A-Za-z0-9._-')'"
            continue
        fi
        case $status in
            healthy | unhealthy) ;;
            *)
                reject "bad status for $name in $RESULTS_FILE"
                continue
                ;;
        esac
        observed=$(note "$detail")
        printf '%s (%s)\n' "$status" "$observed" >"$work/observed.$name"
        printf '%s%s%s%s%s\n' "$name" "$tab" "$status" "$tab" "$observed" >>"$data"
    done <"$RESULTS_FILE"
    rc=0
    psql -X -q -A -t -v ON_ERROR_STOP=0 -v env="$HR_ENVIRONMENT" -v owner="$HR_OWNER" \
        -v disable_routing="$HR_DISABLE_ROUTING" -v threshold="$HR_FAILURE_THRESHOLD" \
        -v statement_timeout="$HR_STATEMENT_TIMEOUT_MS" -v lock_timeout="$HR_LOCK_TIMEOUT_MS" \
        -f "$SQL_FILE" <"$data" >"$work/out" || rc=$?
    [ "$rc" -eq 0 ] || log "psql exited with status $rc"
    while IFS= read -r line; do
        name=${line%%|*}
        [ "$name" != "$line" ] && [ -e "$work/observed.$name" ] || continue
        outcome=${line#*|}
        log "$name: $(cat "$work/observed.$name"); ${outcome:-no active registry entry}"
        : >"$work/done.$name"
    done <"$work/out"
    failures=0
    while read -r name status detail; do
        [ -e "$work/observed.$name" ] || continue
        [ ! -e "$work/done.$name" ] || continue
        failures=$((failures + 1))
        log "$name: $(cat "$work/observed.$name"); NOT recorded, psql failed"
    done <"$RESULTS_FILE"
    if [ -s "$REJECTED_FILE" ]; then
        failures=$((failures + $(wc -l <"$REJECTED_FILE")))
    fi
    rm -rf "$work"
    [ "$failures" -eq 0 ] || fail "$failures result(s) could not be recorded"
}

case ${1:-} in
    probe) probe ;;
    report) report ;;
    run)
        probe
        report
        ;;
    *)
        printf 'usage: %s probe|report|run\n' "$0" >&2
        exit 2
        ;;
esac
