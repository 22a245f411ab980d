#!/usr/bin/env bash
# HTTP benchmark of GET /v1/assign, without and with exposure logging, side by side with the
# seed's FastAPI + Redis peer.
#
#   bash bench/http_assign.sh [BUILD_DIR]      (default: build/ of this checkout)
#
# 1. Starts BUILD_DIR/abrec serve with a temporary copy of config/abrec.yaml (bench/lib.sh):
#    the real experiments of config/experiments, every file it writes (audit log, accepted
#    experiments, database, population record) in a temporary directory, a free port, and
#    the shipped storage settings (WAL, synchronous FULL, group commit).
# 2. wrk -t2 -c64 -d10s --latency on GET /v1/assign?user_id=…&experiment=recsys_v2_hybrid
#    &log=false, a new user id per request (bench/assign.lua).
# 3. The same on the same server without &log=false: every enrolled user gets an exposure
#    event (recsys_v2_hybrid has coverage 1, and holdout and exploration users are logged
#    too, with their counterfactual variant), so every request writes one row, and its
#    answer waits for the group commit that makes it durable. Afterwards the server is stopped and the exposures in its
#    database are counted against wrk's request count.
# 4. Starts the seed peer (../shared/peers/run-seed-peer.sh PEER_PORT 2) and runs the same
#    wrk settings on its cache-hit path, GET /recommend/u{n}, n in 0..9999
#    (bench/seed_peer.lua).
# 5. Prints a table (req/s, mean, p50, p99 from wrk's --latency output) and whether abrec
#    met its target (>= 30,000 req/s with p99 <= 5 ms, with and without logging). Missing
#    the target is reported, not an error; the exit status is non-zero only when a benchmark
#    could not run (a server that does not start, wrk failing, non-2xx answers, no requests
#    completed).
#
# Environment: BENCH_DURATION (default 10s), PEER_PORT (default 8000), SKIP_PEER=1 to
# measure abrec only. wrk and both servers share the machine's cores, as in production
# sidecar setups; the figures are for this machine only.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build}
duration=${BENCH_DURATION:-10s}
peer_port=${PEER_PORT:-8000}
peer_script=$root/../shared/peers/run-seed-peer.sh
wrk_args=(-t2 -c64 -d"$duration" --latency)
target_rps=30000
target_p99_ms=5

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_setup http_assign

declare -a rows=()

# run_wrk NAME URL SCRIPT [SCRIPT_ARGS...]: runs wrk, appends a row to the table.
run_wrk() {
  local name=$1 url=$2 script=$3
  shift 3
  local extra=()
  [ $# -gt 0 ] && extra=(-- "$@")
  wrk_run "$name" "$tmp/wrk-$RANDOM.txt" "${wrk_args[@]}" -s "$script" "$url" "${extra[@]}"
  rows+=("$(printf '%-40s %10.0f %9s %9s %9s  %s' "$name" "$w_rps" "$w_mean_ms" \
    "$w_p50_ms" "$w_p99_ms" "${w_sockerr:-none}")")
}

print_table() {
  echo
  echo "== GET /v1/assign vs the seed peer (wrk ${wrk_args[*]}; $(nproc) cores shared by"
  echo "   wrk and the server; latencies in ms)"
  printf '%-40s %10s %9s %9s %9s  %s\n' "service" "req/s" "mean" "p50" "p99" "socket errors"
  local r
  for r in "${rows[@]}"; do echo "$r"; done
}

# verdict NAME RPS P99_MS
verdict() {
  if awk -v r="$2" -v p="$3" -v tr="$target_rps" -v tp="$target_p99_ms" \
       'BEGIN { exit !(r >= tr && p <= tp) }'; then
    echo "  $1: met, $2 req/s, p99 $3 ms"
  else
    echo "  $1: MISSED, $2 req/s, p99 $3 ms"
  fi
}

# --- abrec ---------------------------------------------------------------------------------

abrec_workspace "$tmp/abrec"
abrec_start "$tmp/abrec"
port=$abrec_port
db=$(abrec_db_path "$tmp/abrec")
sample=$(curl -fsS "${auth[@]}" "http://127.0.0.1:$port/v1/assign?user_id=user-1&experiment=recsys_v2_hybrid&log=false") ||
  die "GET /v1/assign does not answer 200; is recsys_v2_hybrid in config/experiments?"
echo "abrec serve on 127.0.0.1:$port; a sample answer:"
echo "$sample"
# The sample user of the logging run is not one wrk generates; its exposure is counted below.
sample=$(curl -fsS "${auth[@]}" "http://127.0.0.1:$port/v1/assign?user_id=sample-1&experiment=recsys_v2_hybrid") ||
  die "GET /v1/assign with exposure logging does not answer 200"
case $sample in *'"logged":true'*) ;; *) die "GET /v1/assign did not log the exposure of sample-1: $sample" ;; esac

run_wrk "abrec GET /v1/assign (log=false)" "http://127.0.0.1:$port" "$here/assign.lua"
nolog_rps=$w_rps nolog_p99=$w_p99_ms
exposures_before=$(sql "$db" "SELECT COUNT(*) FROM events")
[ "$exposures_before" = 1 ] || die "log=false wrote events: $exposures_before rows (1 expected, the sample's)"

run_wrk "abrec GET /v1/assign (exposure logged)" "http://127.0.0.1:$port" "$here/assign.lua" log
log_rps=$w_rps log_p99=$w_p99_ms log_requests=$w_requests
abrec_stop  # commits what is queued, then the rows can be counted
exposures=$(( $(sql "$db" "SELECT COUNT(*) FROM events WHERE type = 0") - exposures_before ))
commit_check=$(awk -v e="$exposures" -v r="$log_requests" 'BEGIN {
  printf "%d exposure events committed for %d answered requests (%.1f%%: every request logs one; requests still in flight when wrk stopped are committed but not counted by wrk)", e, r, 100 * e / r }')
echo
echo "database: $commit_check"
# --- the seed peer -----------------------------------------------------------------------------

if [ "${SKIP_PEER:-}" != 1 ]; then
  seed_peer_start
  run_wrk "seed peer GET /recommend/u{n} (cache hit)" "http://127.0.0.1:$peer_port" "$here/seed_peer.lua"
fi

print_table
echo
echo "target: abrec >= $target_rps req/s with p99 <= $target_p99_ms ms, with log=false and with exposure logging"
verdict "log=false" "$nolog_rps" "$nolog_p99"
verdict "exposure logged" "$log_rps" "$log_p99"
echo "exposure logging: $commit_check"
if [ "${SKIP_PEER:-}" != 1 ]; then
  echo "note: the peer does a simpler job: one Redis GET of a cached list and json.loads, no hashing,"
  echo "      no assignment, no validation; abrec computes three hashes, the assignment and a JSON answer."
fi
