#!/bin/sh
# vllm-platform health reporter: probe each model's /health, record the result in the registry.
#
#   reporter.sh probe    curl every model's /health (in parallel, short timeout) and write one
#                        line per model, "<name> <healthy|unhealthy> <detail>", to the results
#                        file; needs curl and no credentials
#   reporter.sh report   apply each result with report.sql through psql as the registry writer
#   reporter.sh run      probe, then report (both tools in one image; used by the tests)
#
# In the cluster `probe` runs in an init container (curl image) and `report` in the main
# container (PostgreSQL client image), so the database password is never in the container
# that talks to the model servers. Both are POSIX sh (busybox ash, dash, bash).
#
# Environment (set by the CronJob; defaults for the paths it mounts):
#   HR_CONFIG_DIR         directory holding `models` and report.sql  (/etc/health-reporter)
#   HR_RESULTS_DIR        directory shared by the two steps           (/results)
#   HR_TIMEOUT_SECONDS    curl --max-time per probe                   (3)
#   HR_PARALLEL           probes in flight at once                    (8)
#   HR_ENVIRONMENT        registry environment of the models          (report: required)
#   HR_DISABLE_ROUTING    true: unhealthy also turns routing off      (false)
#   HR_PASSWORD_FILE      file holding the writer's password          (report: optional)
#   PGHOST PGPORT PGDATABASE PGUSER PGSSLMODE ...   libpq's own variables
#
# The `models` file has one "<name> <health url>" per line. Nothing here prints the password:
# it is only read into PGPASSWORD for psql, and tracing (set -x) is never turned on.
set -eu

HR_CONFIG_DIR=${HR_CONFIG_DIR:-/etc/health-reporter}
HR_RESULTS_DIR=${HR_RESULTS_DIR:-/results}
HR_TIMEOUT_SECONDS=${HR_TIMEOUT_SECONDS:-3}
HR_PARALLEL=${HR_PARALLEL:-8}
HR_DISABLE_ROUTING=${HR_DISABLE_ROUTING:-false}
MODELS_FILE="$HR_CONFIG_DIR/models"
SQL_FILE="$HR_CONFIG_DIR/report.sql"
RESULTS_FILE="$HR_RESULTS_DIR/results"

log() {
    printf 'health-reporter: %s\n' "$*"
}

fail() {
    printf 'health-reporter: error: %s\n' "$*" >&2
    exit 1
}

# A model name is a DNS label; anything else in the models file is a bug, not data.
check_name() {
    case $1 in
        '' | *[!a-z0-9-]*) fail "bad model name in $MODELS_FILE: '$1'" ;;
    esac
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
    running=0
    while read -r name url rest; do
        case $name in '' | '#'*) continue ;; esac
        check_name "$name"
        [ -n "$url" ] && [ -z "$rest" ] || fail "bad line for $name in $MODELS_FILE"
        probe_one "$name" "$url" >"$work/$name" &
        running=$((running + 1))
        if [ "$running" -ge "$HR_PARALLEL" ]; then
            wait
            running=0
        fi
    done <"$MODELS_FILE"
    wait
    : >"$RESULTS_FILE.tmp"
    while read -r name url rest; do
        case $name in '' | '#'*) continue ;; esac
        [ -s "$work/$name" ] || fail "no probe result for $name"
        cat "$work/$name" >>"$RESULTS_FILE.tmp"
    done <"$MODELS_FILE"
    mv "$RESULTS_FILE.tmp" "$RESULTS_FILE"
    rm -rf "$work"
}

describe() {
    case $1 in
        http_*) printf '/health answered HTTP %s' "${1#http_}" ;;
        timeout) printf '/health did not answer within %ss' "$HR_TIMEOUT_SECONDS" ;;
        curl_exit_*) printf '/health unreachable (curl exit %s)' "${1#curl_exit_}" ;;
        *) printf '%s' "$1" ;;
    esac
}

report() {
    [ -n "${HR_ENVIRONMENT:-}" ] || fail "HR_ENVIRONMENT is not set"
    [ -r "$SQL_FILE" ] || fail "cannot read $SQL_FILE"
    [ -r "$RESULTS_FILE" ] || fail "no probe results in $RESULTS_FILE"
    case $HR_DISABLE_ROUTING in
        true | false) ;;
        *) fail "HR_DISABLE_ROUTING must be true or false" ;;
    esac
    if [ -n "${HR_PASSWORD_FILE:-}" ]; then
        [ -r "$HR_PASSWORD_FILE" ] || fail "cannot read the password file"
        PGPASSWORD=$(cat "$HR_PASSWORD_FILE")
        export PGPASSWORD
    fi
    failures=0
    while read -r name status detail; do
        check_name "$name"
        case $status in
            healthy | unhealthy) ;;
            *) fail "bad status for $name in $RESULTS_FILE: '$status'" ;;
        esac
        note=$(describe "$detail")
        if outcome=$(psql -X -q -A -t -v ON_ERROR_STOP=1 \
            -v env="$HR_ENVIRONMENT" -v name="$name" -v status="$status" \
            -v disable_routing="$HR_DISABLE_ROUTING" -v note="$note" \
            -f "$SQL_FILE" </dev/null); then
            log "$name: $status ($note); ${outcome:-no active registry entry}"
        else
            failures=$((failures + 1))
            log "$name: $status ($note); NOT recorded, psql failed"
        fi
    done <"$RESULTS_FILE"
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
