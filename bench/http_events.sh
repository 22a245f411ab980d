#!/usr/bin/env bash
# HTTP benchmark of event ingest, POST /v1/events, at 1, 100 and 1,000 events per request,
# side by side with plain SQLite batched inserts on the same disk.
#
#   bash bench/http_events.sh [BUILD_DIR]      (default: build/ of this checkout)
#
# 1. Starts BUILD_DIR/abrec serve in a temporary workspace (bench/lib.sh: the shipped
#    config/abrec.yaml, so WAL, synchronous FULL and group commit, with the experiments of
#    config/experiments and every written file in a temporary directory) and asks it, with
#    POST /v1/assign log=false, which of member-00000..member-09999 are in a variant
#    (control or treatment) of recsys_v2_hybrid: events.lua draws its users from them, so
#    its exposures are valid.
# 2. For each batch size, a fresh server and database, then
#    wrk -t2 -cC -d10s --latency -s bench/events.lua -- BATCH users.txt
#    with C = 64 connections for batch 1, 16 for batch 100, 8 for batch 1,000: enough
#    requests in flight that the writer always has the next group queued while a transaction
#    commits. Every event has a unique id (nothing is a duplicate) and no timestamp; the mix
#    is 85% clicks, 10% binds with a premium, 5% exposures. The 202 comes only after the
#    commit, so wrk's latency is the acknowledgement latency of a durable write.
# 3. The server is stopped (it commits what is queued), and the rows of `events` are
#    counted: they must be at least wrk's completed requests x batch (an acknowledged event
#    that is missing is an error), and at most that plus the requests still in flight when
#    wrk stopped (C x batch).
# 4. The reference: BUILD_DIR/bench/sqlite_insert_bench, rows of the same width in
#    transactions of 1,000 with WAL and synchronous=FULL, in the same temporary directory.
# 5. Prints a table: requests/s, events/s (= requests/s x batch), p50 and p99 of the
#    acknowledgement, the database count; and whether the target (>= 100,000 events/s at
#    batch 1,000, acknowledged after a durable commit) is met. A missed target is reported,
#    not an error.
#
# Environment: BENCH_DURATION (default 10s), EVENT_BATCHES (default "1 100 1000"),
# EVENT_CONNECTIONS (one connection count for every batch size instead of 64/16/8),
# REFERENCE_SECONDS (default 4, per table layout of the reference).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build}
duration=${BENCH_DURATION:-10s}
read -ra batches <<<"${EVENT_BATCHES:-1 100 1000}"
reference_seconds=${REFERENCE_SECONDS:-4}
target_events=100000
target_batch=1000

# Connections per batch size: 64 single events in flight; fewer for big batches, where each
# request already carries many events and more connections only lengthen the queue.
connections_for() {
  if [ -n "${EVENT_CONNECTIONS:-}" ]; then echo "$EVENT_CONNECTIONS"; return; fi
  case $1 in
    1) echo 64 ;;
    100) echo 16 ;;
    *) echo 8 ;;
  esac
}

die() { echo "http_events: $*" >&2; exit 1; }
build=$(cd "$build" 2>/dev/null && pwd) || die "no build directory ${1:-$root/build}"
[ -x "$build/abrec" ] || die "$build/abrec not found: build first (make bench builds)"
[ -x "$build/bench/sqlite_insert_bench" ] || die "$build/bench/sqlite_insert_bench not found: build first"
command -v wrk >/dev/null || die "wrk not found (scripts/install-deps.sh installs it)"
command -v curl >/dev/null || die "curl not found (scripts/install-deps.sh installs it)"
command -v python3 >/dev/null || die "python3 not found (scripts/install-deps.sh installs it)"
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

tmp=$(mktemp -d /tmp/abrec-bench-events.XXXXXX)
cleanup() {
  local status=$?
  abrec_stop
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the user pool -------------------------------------------------------------------------

abrec_workspace "$tmp/pool"
abrec_start "$tmp/pool"
# The catalog's product ids: an exposure's items must name products of the catalog.
sed -n 's/^ *- {id: *\([a-z_0-9]*\),.*/\1/p' "$here/../config/catalog.yaml" >"$tmp/products.txt"
[ -s "$tmp/products.txt" ] || die "no product ids in config/catalog.yaml"
: >"$tmp/users.txt"
for chunk in $(seq 0 9); do
  python3 - "$chunk" >"$tmp/assign.json" <<'EOF'
import json, sys
c = int(sys.argv[1])
ids = [f"member-{i:05d}" for i in range(c * 1000, c * 1000 + 1000)]
print(json.dumps({"experiment": "recsys_v2_hybrid", "user_ids": ids, "log": False}))
EOF
  curl -fsS "${auth[@]}" -X POST -H 'Content-Type: application/json' --data-binary @"$tmp/assign.json" \
    "http://127.0.0.1:$abrec_port/v1/assign" >"$tmp/assigned.json" ||
    die "POST /v1/assign does not answer 200; is recsys_v2_hybrid in config/experiments?"
  python3 - "$tmp/assigned.json" >>"$tmp/users.txt" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    if r["bucket"] in ("control", "treatment"):
        print(r["user_id"])
EOF
done
abrec_stop
pool=$(wc -l <"$tmp/users.txt")
[ "$pool" -gt 0 ] || die "no user of member-00000..member-09999 is in recsys_v2_hybrid"
echo "user pool: $pool of member-00000..member-09999 are in a variant of recsys_v2_hybrid (control or treatment)"

# One request of each size by hand, to see the answer and that nothing is rejected.
abrec_workspace "$tmp/check"
abrec_start "$tmp/check"
echo "a sample answer to one request of each batch size:"
for b in "${batches[@]}"; do
  body=$(cd "$tmp" && B=$b U="$tmp/users.txt" python3 - <<'EOF'
import json, os, random
random.seed(1)
users = open(os.environ["U"]).read().split()
b = int(os.environ["B"])
ev = []
for i in range(b):
    u = random.choice(users)
    if i % 20 == 0:
        ev.append({"event_id": f"check-{b}-{i}", "type": "exposure", "user_id": u,
                   "experiment": "recsys_v2_hybrid"})
    elif i % 10 == 1:
        ev.append({"event_id": f"check-{b}-{i}", "type": "bind", "user_id": u,
                   "product_id": "product-01", "premium": 123.45})
    else:
        ev.append({"event_id": f"check-{b}-{i}", "type": "click", "user_id": u,
                   "product_id": "product-02", "position": 1})
print(json.dumps({"events": ev}))
EOF
)
  answer=$(curl -fsS "${auth[@]}" -X POST -H 'Content-Type: application/json' --data-binary "$body" \
    "http://127.0.0.1:$abrec_port/v1/events") || die "POST /v1/events does not answer 2xx"
  echo "  batch $b: $answer"
  case $answer in
    "{\"accepted\":$b,\"duplicates\":0,\"rejected\":[]}") ;;
    *) die "POST /v1/events did not accept all $b events" ;;
  esac
done
abrec_stop

# --- POST /v1/events -----------------------------------------------------------------------

declare -a rows=()
declare -A rate=() p99=()
for b in "${batches[@]}"; do
  c=$(connections_for "$b")
  ws=$tmp/events-$b
  abrec_workspace "$ws"
  abrec_start "$ws"
  wrk_run "POST /v1/events, $b per request, $c connections" "$tmp/wrk-$b.txt" \
    -t2 -c"$c" -d"$duration" --latency -s "$here/events.lua" \
    "http://127.0.0.1:$abrec_port" -- "$b" "$tmp/users.txt" "$tmp/products.txt"
  abrec_stop  # commits what is queued and checkpoints the WAL
  db=$(abrec_db_path "$ws")
  counted=$(sql "$db" "SELECT COUNT(*) FROM events")
  by_type=$(sql "$db" "SELECT group_concat(n, ' ') FROM (SELECT type || ':' || COUNT(*) AS n FROM events GROUP BY type)")
  low=$((w_requests * b))
  high=$(((w_requests + c) * b))
  if [ "$counted" -lt "$low" ]; then
    die "batch $b: $counted events in the database, fewer than the $low wrk saw acknowledged"
  elif [ "$counted" -gt "$high" ]; then
    die "batch $b: $counted events in the database, more than the $high sent"
  fi
  echo "database: $counted events (by type, 0 exposure 1 click 2 bind: $by_type);" \
       "wrk: $w_requests requests x $b = $low acknowledged, up to $((c * b)) more in flight at the end"
  ev=$(awk -v r="$w_rps" -v b="$b" 'BEGIN { printf "%.0f", r * b }')
  rate[$b]=$ev p99[$b]=$w_p99_ms
  rows+=("$(printf '%7s %5s %10.0f %10s %9s %9s %9s %10s %10s  %s' "$b" "$c" "$w_rps" "$ev" \
    "$w_mean_ms" "$w_p50_ms" "$w_p99_ms" "$low" "$counted" "${w_sockerr:-none}")")
done

# --- the reference -------------------------------------------------------------------------

echo
echo "== reference: $build/bench/sqlite_insert_bench --dir $tmp --seconds $reference_seconds"
echo "   (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
"$build/bench/sqlite_insert_bench" --dir "$tmp" --seconds "$reference_seconds" | tee "$tmp/reference.txt" ||
  die "sqlite_insert_bench failed"

echo
echo "== POST /v1/events (wrk -t2 -cC -d$duration --latency; $(nproc) cores shared by wrk and the"
echo "   server; synchronous=FULL: the 202 comes after the fsync; latencies in ms)"
printf '%7s %5s %10s %10s %9s %9s %9s %10s %10s  %s\n' "batch" "C" "req/s" "events/s" "mean" \
  "p50" "p99" "wrk x b" "in DB" "socket errors"
for r in "${rows[@]}"; do echo "$r"; done
echo "(wrk x b: completed requests x batch size; in DB: rows of events after the run, which also"
echo " holds the requests in flight when wrk stopped)"
echo
echo "target: >= $target_events events/s at batch $target_batch, acknowledged after a durable commit"
if [ -n "${rate[$target_batch]:-}" ]; then
  if [ "${rate[$target_batch]}" -ge "$target_events" ]; then
    echo "  met: ${rate[$target_batch]} events/s, p99 ${p99[$target_batch]} ms"
  else
    echo "  MISSED: ${rate[$target_batch]} events/s, p99 ${p99[$target_batch]} ms"
  fi
else
  echo "  not measured (EVENT_BATCHES has no $target_batch)"
fi
