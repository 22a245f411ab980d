# shellcheck shell=bash disable=SC2034,SC2154
# Shared by bench/http_assign.sh and bench/http_events.sh (sourced, not run). The caller sets
# `root` (this checkout), `build` (an absolute build directory), `tmp` (its temporary
# directory) and defines `die`; these functions start and stop abrec in a temporary workspace
# and run wrk.

bench_running() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

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

# abrec_workspace DIR: DIR/abrec.yaml is the shipped config/abrec.yaml with the experiments of
# this checkout (absolute paths, as are the catalog and ranking rules) and every file abrec writes (audit log, accepted experiments,
# database, population record, token, models) under DIR/var. Nothing else is changed, so the
# database runs with the shipped storage settings (WAL, synchronous FULL, group commit).
abrec_workspace() {
  local dir=$1
  mkdir -p "$dir/var"
  sed -e "s|^\(  dir:\) *experiments\b|\1 $root/config/experiments|" \
      -e "s|^\(  catalog:\) *catalog.yaml\b|\1 $root/config/catalog.yaml|" \
      -e "s|^\(  ranking:\) *ranking.yaml\b|\1 $root/config/ranking.yaml|" \
      -e "s|\.\./var/|$dir/var/|g" "$root/config/abrec.yaml" >"$dir/abrec.yaml"
  grep -q "^  dir: $root/config/experiments" "$dir/abrec.yaml" ||
    die "config/abrec.yaml has no 'experiments: dir: experiments' line to point at $root/config/experiments"
  ! grep -q '\.\./' "$dir/abrec.yaml" || die "config/abrec.yaml has a relative path this script does not redirect"
  grep -q "^  path: $dir/var/" "$dir/abrec.yaml" || die "storage.path of config/abrec.yaml is not under ../var/"
  grep -q "^  catalog: $root/config/catalog.yaml" "$dir/abrec.yaml" ||
    die "config/abrec.yaml has no 'recommender: catalog: catalog.yaml' line to redirect"
  grep -q "^  ranking: $root/config/ranking.yaml" "$dir/abrec.yaml" ||
    die "config/abrec.yaml has no 'recommender: ranking: ranking.yaml' line to redirect"
  # One API key (serve, read, admin) for the whole run: made in the first workspace, its key
  # file copied into the others. Every request to abrec sends it, as a client must.
  if [ -z "$abrec_key" ]; then
    abrec_key=$("$build/abrec" keys create --config "$dir/abrec.yaml" --scope serve,read,admin \
      --name bench) || die "cannot create an API key"
    abrec_keys_file="$dir/var/api-keys.json"
    auth=(-H "Authorization: Bearer $abrec_key")
    export ABREC_KEY=$abrec_key
  elif [ "$abrec_keys_file" != "$dir/var/api-keys.json" ]; then
    cp -p "$abrec_keys_file" "$dir/var/api-keys.json"
  fi
}
abrec_key=""
abrec_keys_file=""
auth=()

# The database file of a workspace made by abrec_workspace.
abrec_db_path() { sed -n 's|^  path: *\([^ ]*\).*|\1|p' "$1/abrec.yaml" | head -1; }

# abrec_start DIR: starts `abrec serve` on a free port with DIR/abrec.yaml, waits for
# GET /healthz. Sets abrec_pid and abrec_port; the caller's trap calls abrec_stop.
abrec_pid=""
abrec_port=""
abrec_start() {
  local dir=$1
  "$build/abrec" serve --config "$dir/abrec.yaml" --port 0 2>"$dir/abrec.log" &
  abrec_pid=$!
  abrec_port=""
  for _ in $(seq 100); do
    abrec_port=$(sed -n 's|.*listening on http://[^ ]*:\([0-9]*\) .*|\1|p' "$dir/abrec.log")
    [ -n "$abrec_port" ] && break
    kill -0 "$abrec_pid" 2>/dev/null || { cat "$dir/abrec.log" >&2; die "abrec serve exited"; }
    sleep 0.1
  done
  [ -n "$abrec_port" ] || { cat "$dir/abrec.log" >&2; die "abrec serve did not start listening"; }
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$abrec_port/healthz" >/dev/null && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$abrec_port/healthz" >/dev/null || die "GET /healthz does not answer"
}

# abrec_stop: SIGTERM, then waits; the event store commits what is queued and checkpoints
# the WAL before the process exits, so the database can be counted afterwards.
abrec_stop() {
  if [ -n "$abrec_pid" ] && kill -0 "$abrec_pid" 2>/dev/null; then
    kill -TERM "$abrec_pid" 2>/dev/null || true
    wait "$abrec_pid" 2>/dev/null || true
  fi
  abrec_pid=""
}

# wrk_run NAME OUT WRK_ARGS...: runs wrk with WRK_ARGS (which must include --latency), shows
# its output (also kept in OUT), and sets w_rps, w_mean_ms, w_p50_ms, w_p99_ms, w_requests,
# w_sockerr. Fails when wrk fails, no request completed or any answer was not 2xx.
wrk_run() {
  local name=$1 out=$2
  shift 2
  echo
  echo "== $name: wrk $*"
  echo "   (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  wrk "${auth[@]}" "$@" >"$out" 2>&1 || { cat "$out"; die "wrk failed on $name"; }
  cat "$out"
  local mean p50 p99 non2xx
  w_rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  mean=$(awk '$1 == "Latency" && NF >= 4 {print $2; exit}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  w_requests=$(awk '/requests in/ {print $1}' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
  w_sockerr=$(awk -F'Socket errors: ' 'NF > 1 {print $2}' "$out")
  if [ -z "$w_rps" ] || [ -z "$p50" ] || [ -z "$p99" ]; then die "cannot parse wrk's output for $name"; fi
  [ "${w_requests:-0}" -gt 0 ] || die "$name: no request completed"
  [ -z "$non2xx" ] || die "$name: $non2xx answers were not 2xx; the figures would be meaningless"
  w_mean_ms=$(to_ms "$mean")
  w_p50_ms=$(to_ms "$p50")
  w_p99_ms=$(to_ms "$p99")
}

# sql DB QUERY: one value from a SQLite database, read with python3's sqlite3 module (the
# sqlite3 CLI is not a dependency).
sql() {
  python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(con.execute(sys.argv[2]).fetchone()[0])
EOF
}

# The common start of an HTTP benchmark script: `die`, checks of the build and the tools, a
# temporary folder $tmp, and an exit trap that stops abrec, the seed peer (when
# $peer_started is set) and removes $tmp. Needs $build (a build directory) and $root.
bench_setup() {
  bench_name=$1
  die() { echo "$bench_name: $*" >&2; exit 1; }
  build=$(cd "$build" 2>/dev/null && pwd) || die "no build directory $build"
  [ -x "$build/abrec" ] || die "$build/abrec not found: build first (make bench builds)"
  command -v wrk >/dev/null || die "wrk not found (scripts/install-deps.sh installs it)"
  command -v curl >/dev/null || die "curl not found (scripts/install-deps.sh installs it)"
  command -v python3 >/dev/null || die "python3 not found (scripts/install-deps.sh installs it)"

  tmp=$(mktemp -d /tmp/abrec-bench.XXXXXX)
  peer_started=""

  port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

  cleanup() {
    local status=$?
    abrec_stop
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
          for p in "${pids[@]}"; do bench_running "$p" && alive=1; done
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
}

# Starts the seed peer (../shared/peers/run-seed-peer.sh) on $peer_port with 2 workers, after
# checking that its ports are free; bench_setup's trap stops it. Needs $peer_script.
seed_peer_start() {
  [ -x "$peer_script" ] || die "$peer_script not found (SKIP_PEER=1 measures abrec only)"
  port_in_use "$peer_port" && die "port $peer_port is in use; set PEER_PORT"
  port_in_use "${REDIS_PORT:-6390}" && die "the peer's Redis port ${REDIS_PORT:-6390} is in use; set REDIS_PORT"
  # Both ports are free, so these pid files are stale; the peer's script writes them afresh.
  rm -f /tmp/seed-peer.pids /tmp/seed-peer-redis.pid
  peer_started=1
  echo
  echo "starting the seed peer (first run installs python3-fastapi python3-uvicorn python3-redis redis-server)"
  "$peer_script" "$peer_port" 2 || die "the seed peer did not start (see /tmp/seed-peer.log)"
}
