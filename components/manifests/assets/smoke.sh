set -u
umask 077
tmp=${TMPDIR:-/tmp}
printf 'Authorization: Bearer %s\n' "$VLLM_API_KEY" > "$tmp/auth"
targets=$SMOKE_TARGETS
if [ -z "$targets" ]; then
  waited=0
  while :; do
    targets=$(nslookup -type=a "$SMOKE_DNS_NAME" 2>/dev/null | awk '
      /^Name:/ { answers = 1; next }
      answers { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$/) print $i }
    ' | sort -u)
    count=$(printf '%s\n' "$targets" | grep -c .)
    [ "$count" -ge "$SMOKE_REPLICAS" ] && break
    if [ "$waited" -ge "$SMOKE_DNS_WAIT_SECONDS" ]; then
      echo "smoke test FAILED: $SMOKE_DNS_NAME resolves to $count ready replica(s)," \
        "expected $SMOKE_REPLICAS"
      exit 1
    fi
    sleep 2
    waited=$((waited + 2))
  done
fi
total=0
failed=0
set -f  # the payloads are JSON: no pathname expansion of their brackets
newline='
'
for host in $targets; do
  total=$((total + 1))
  url="http://$host:$SMOKE_PORT$SMOKE_PATH"
  broken=0
  IFS=$newline
  for payload in $SMOKE_PAYLOADS; do
    unset IFS
    model=$(printf '%s' "$payload" | sed 's/.*"model": *"\([^"]*\)".*/\1/')
    status=$(curl --silent --show-error --max-time "$SMOKE_TIMEOUT_SECONDS" \
      --header @"$tmp/auth" --header 'Content-Type: application/json' \
      --data "$payload" --output "$tmp/body" --write-out '%{http_code} %{time_total}' \
      "$url")
    rc=$?
    cat "$tmp/body" 2>/dev/null; echo
    rm -f "$tmp/body"
    if [ "$rc" -ne 0 ]; then
      echo "replica $host FAILED: curl exit $rc (28: no answer within" \
        "${SMOKE_TIMEOUT_SECONDS}s) for model $model"
      broken=1
    elif [ "${status%% *}" != "200" ]; then
      echo "replica $host FAILED: HTTP ${status%% *} from $url for model $model" \
        "(time ${status#* }s)"
      broken=1
    else
      echo "replica $host passed: HTTP 200 in ${status#* }s for model $model" \
        "(budget ${SMOKE_TIMEOUT_SECONDS}s)"
    fi
  done
  unset IFS
  failed=$((failed + broken))
done
if [ "$total" -lt "$SMOKE_REPLICAS" ]; then
  echo "smoke test FAILED: tested $total replica(s), expected $SMOKE_REPLICAS"
  exit 1
fi
if [ "$failed" -ne 0 ]; then
  echo "smoke test FAILED: $failed of $total replica(s) did not answer"
  exit 1
fi
echo "smoke test passed: all $total replica(s) answered"
