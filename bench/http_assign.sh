#!/usr/bin/env bash
# HTTP benchmark of GET /v1/assign, side by side with the seed's FastAPI + Redis peer.
#
#   bash bench/http_assign.sh [BUILD_DIR]      (default: build/ of this checkout)
#
# 1. Starts BUILD_DIR/abrec serve with a temporary copy of config/abrec.yaml: the real
#    experiments of config/experiments, every file it writes (audit log, accepted
#    experiments, database, population record) in a temporary directory, a free port.
# 2. wrk -t2 -c64 -d10s --latency on GET /v1/assign?user_id=…&experiment=recsys_v2_hybrid
#    &log=false, a new user id per request (bench/assign.lua). Exposure logging does not
#    exist yet, so only log=false is measured.
# 3. Starts the seed peer (../shared/peers/run-seed-peer.sh PEER_PORT 2) and runs the same
#    wrk settings on its cache-hit path, GET /recommend/u{n}, n in 0..9999
#    (bench/seed_peer.lua).
# 4. Prints a table (req/s, mean, p50, p99 from wrk's --latency output) and whether abrec
#    met its target (>= 30,000 req/s with p99 <= 5 ms). Missing the target is reported, not
#    an error; the exit status is non-zero only when a benchmark could not run (a server
#    that does not start, wrk failing, non-2xx answers, no requests completed).
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

die() { echo "http_assign: $*" >&2; exit 1; }
build=$(cd "$build" 2>/dev/null && pwd) || die "no build directory ${1:-$root/build}"
abrec=$build/abrec
[ -x "$abrec" ] || die "$abrec not found: build first (make bench builds)"
command -v wrk >/dev/null || die "wrk not found (scripts/install-deps.sh installs it)"
command -v curl >/dev/null || die "curl not found (scripts/install-deps.sh installs it)"

tmp=$(mktemp -d /tmp/abrec-bench.XXXXXX)
abrec_pid=""
peer_started=""

running() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

cleanup() {
  local status=$?
  if [ -n "$abrec_pid" ] && kill -0 "$abrec_pid" 2>/dev/null; then
    kill -TERM "$abrec_pid" 2>/dev/null || true
    wait "$abrec_pid" 2>/dev/null || true
  fi
  if [ -n "$peer_started" ]; then
    # The peer's script records "uvicorn-pid redis-pid"; if it died before writing that,
    # only its Redis may be running.
    local pids=() p alive
    if [ -f /tmp/seed-peer.pids ]; then
      read -ra pids </tmp/seed-peer.pids || true
    elif [ -f /tmp/seed-peer-redis.pid ]; then
      read -ra pids </tmp/seed-peer-redis.pid || true
    fi
    if [ ${#pids[@]} -gt 0 ]; then
      kill "${pids[@]}" 2>/dev/null || true
      for _ in $(seq 100); do  # uvicorn stops its workers first
        alive=""
        for p in "${pids[@]}"; do running "$p" && alive=1; done
        [ -z "$alive" ] && break
        sleep 0.1
      done
    fi
    rm -f /tmp/seed-peer.pids /tmp/seed-peer-redis.pid
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wrk prints times as 812.00us, 1.23ms, 2.00s, 1.00m; this turns them into milliseconds.
to_ms() {
  awk -v t="$1" 'BEGIN {
    if (t ~ /us$/) printf "%.3f", substr(t, 1, length(t) - 2) / 1000;
    else if (t ~ /ms$/) printf "%.3f", substr(t, 1, length(t) - 2);
    else if (t ~ /s$/) printf "%.3f", substr(t, 1, length(t) - 1) * 1000;
    else if (t ~ /m$/) printf "%.3f", substr(t, 1, length(t) - 1) * 60000;
    else printf "nan";
  }'
}

declare -a rows=()

# run_wrk NAME URL SCRIPT: runs wrk, shows its output, appends a row to the table.
run_wrk() {
  local name=$1 url=$2 script=$3 out=$tmp/wrk-$RANDOM.txt
  echo
  echo "== $name: wrk ${wrk_args[*]} -s $(basename "$script") $url"
  echo "   (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  wrk "${wrk_args[@]}" -s "$script" "$url" >"$out" 2>&1 || { cat "$out"; die "wrk failed on $name"; }
  cat "$out"
  local rps mean p50 p99 requests non2xx sockerr
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  mean=$(awk '$1 == "Latency" && NF >= 4 {print $2; exit}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  requests=$(awk '/requests in/ {print $1}' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
  sockerr=$(awk -F'Socket errors: ' 'NF > 1 {print $2}' "$out")
  if [ -z "$rps" ] || [ -z "$p50" ] || [ -z "$p99" ]; then die "cannot parse wrk's output for $name"; fi
  [ "${requests:-0}" -gt 0 ] || die "$name: no request completed"
  [ -z "$non2xx" ] || die "$name: $non2xx answers were not 2xx; the figures would be meaningless"
  rows+=("$(printf '%-40s %10.0f %9s %9s %9s  %s' "$name" "$rps" "$(to_ms "$mean")" \
    "$(to_ms "$p50")" "$(to_ms "$p99")" "${sockerr:-none}")")
  last_rps=$rps
  last_p99_ms=$(to_ms "$p99")
}

print_table() {
  echo
  echo "== GET /v1/assign vs the seed peer (wrk ${wrk_args[*]}; $(nproc) cores shared by"
  echo "   wrk and the server; latencies in ms)"
  printf '%-40s %10s %9s %9s %9s  %s\n' "service" "req/s" "mean" "p50" "p99" "socket errors"
  local r
  for r in "${rows[@]}"; do echo "$r"; done
}

# --- abrec ---------------------------------------------------------------------------------

# The shipped config, with the experiments of this checkout and every written file in $tmp.
sed -e "s|^\(  dir:\) *experiments\b|\1 $root/config/experiments|" \
    -e "s|\.\./var/|$tmp/var/|g" "$root/config/abrec.yaml" >"$tmp/abrec.yaml"
grep -q "^  dir: $root/config/experiments" "$tmp/abrec.yaml" ||
  die "config/abrec.yaml has no 'experiments: dir: experiments' line to point at $root/config/experiments"
! grep -q '\.\./' "$tmp/abrec.yaml" || die "config/abrec.yaml has a relative path this script does not redirect"
mkdir -p "$tmp/var"

"$abrec" serve --config "$tmp/abrec.yaml" --port 0 2>"$tmp/abrec.log" &
abrec_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's|.*listening on http://[^ ]*:\([0-9]*\) .*|\1|p' "$tmp/abrec.log")
  [ -n "$port" ] && break
  kill -0 "$abrec_pid" 2>/dev/null || { cat "$tmp/abrec.log" >&2; die "abrec serve exited"; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/abrec.log" >&2; die "abrec serve did not start listening"; }
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || die "GET /healthz does not answer"
sample=$(curl -fsS "http://127.0.0.1:$port/v1/assign?user_id=user-1&experiment=recsys_v2_hybrid&log=false") ||
  die "GET /v1/assign does not answer 200; is recsys_v2_hybrid in config/experiments?"
echo "abrec serve on 127.0.0.1:$port; a sample answer:"
echo "$sample"

run_wrk "abrec GET /v1/assign (log=false)" "http://127.0.0.1:$port" "$here/assign.lua"
abrec_rps=$last_rps abrec_p99=$last_p99_ms
kill -TERM "$abrec_pid" 2>/dev/null || true
wait "$abrec_pid" || true
abrec_pid=""

# --- the seed peer -----------------------------------------------------------------------------

if [ "${SKIP_PEER:-}" != 1 ]; then
  [ -x "$peer_script" ] || die "$peer_script not found (SKIP_PEER=1 measures abrec only)"
  port_in_use "$peer_port" && die "port $peer_port is in use; set PEER_PORT"
  port_in_use "${REDIS_PORT:-6390}" && die "the peer's Redis port ${REDIS_PORT:-6390} is in use; set REDIS_PORT"
  # Both ports are free, so these pid files are stale; the peer's script writes them afresh.
  rm -f /tmp/seed-peer.pids /tmp/seed-peer-redis.pid
  peer_started=1
  echo
  echo "starting the seed peer (first run installs python3-fastapi python3-uvicorn python3-redis redis-server)"
  "$peer_script" "$peer_port" 2 || die "the seed peer did not start (see /tmp/seed-peer.log)"
  run_wrk "seed peer GET /recommend/u{n} (cache hit)" "http://127.0.0.1:$peer_port" "$here/seed_peer.lua"
fi

print_table
echo
echo "target: abrec >= $target_rps req/s with p99 <= $target_p99_ms ms (log=false; exposure logging does not exist yet)"
if awk -v r="$abrec_rps" -v p="$abrec_p99" -v tr="$target_rps" -v tp="$target_p99_ms" \
     'BEGIN { exit !(r >= tr && p <= tp) }'; then
  echo "  met: $abrec_rps req/s, p99 $abrec_p99 ms"
else
  echo "  MISSED: $abrec_rps req/s, p99 $abrec_p99 ms"
fi
if [ "${SKIP_PEER:-}" != 1 ]; then
  echo "note: the peer does a simpler job: one Redis GET of a cached list and json.loads, no hashing,"
  echo "      no assignment, no validation; abrec computes three hashes, the assignment and a JSON answer."
fi
