#!/usr/bin/env bash
# Runs every benchmark of bench/ against an existing build: assign_bench, store_bench,
# stats_bench (with its scipy reference), quality_bench, http_assign.sh, http_events.sh. Builds nothing (`make bench` builds first, then runs
# `bash bench/run-all.sh build`).
# Then the recommender's speed and memory: recommend_bench (training at 20,000 and 1,000,000
# customers, latencies at 21 and 10,000 products, about 10 minutes on 2 cores;
# RECOMMEND_BENCH_ARGS="--skip-1m" shortens it) and http_recommend.sh.
#
#   bash bench/run-all.sh BUILD_DIR
#
# Results go to stdout and to BUILD_DIR/bench/results.txt. The exit status is non-zero when
# a benchmark could not run; a missed target is reported in the output, not as a failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: bash bench/run-all.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" 2>/dev/null && pwd) || { echo "run-all: no build directory $1" >&2; exit 2; }

run_all() {
  local status=0
  echo "== abrec benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)," \
       "load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null))"

  echo
  echo "== in-process assignment: $build/bench/assign_bench"
  if [ -x "$build/bench/assign_bench" ]; then
    "$build/bench/assign_bench" || { echo "run-all: assign_bench failed" >&2; status=1; }
  else
    echo "run-all: $build/bench/assign_bench not found: build first" >&2
    status=1
  fi

  echo
  echo "== in-process ingest through the event store: $build/bench/store_bench"
  if [ -x "$build/bench/store_bench" ]; then
    "$build/bench/store_bench" 2>/dev/null || { echo "run-all: store_bench failed" >&2; status=1; }
  else
    echo "run-all: $build/bench/store_bench not found: build first" >&2
    status=1
  fi

  echo
  echo "== statistics of one experiment from its aggregates: $build/bench/stats_bench"
  if [ -x "$build/bench/stats_bench" ]; then
    "$build/bench/stats_bench" || { echo "run-all: stats_bench failed" >&2; status=1; }
    /usr/bin/python3 "$here/stats_reference.py" || { echo "run-all: stats_reference.py failed" >&2; status=1; }
  else
    echo "run-all: $build/bench/stats_bench not found: build first" >&2
    status=1
  fi
  echo
  echo "== recommender quality on the real portfolios: $build/bench/quality_bench"
  if [ -x "$build/bench/quality_bench" ]; then
    "$build/bench/quality_bench" 2>/dev/null || { echo "run-all: quality_bench failed" >&2; status=1; }
  else
    echo "run-all: $build/bench/quality_bench not found: build first" >&2
    status=1
  fi
  echo
  echo "== HTTP: bench/http_assign.sh"
  bash "$here/http_assign.sh" "$build" || { echo "run-all: http_assign.sh failed" >&2; status=1; }

  echo
  echo "== HTTP: bench/http_events.sh"
  bash "$here/http_events.sh" "$build" || { echo "run-all: http_events.sh failed" >&2; status=1; }

  echo
  echo "== recommender speed and memory in-process: $build/bench/recommend_bench ${RECOMMEND_BENCH_ARGS:-}"
  if [ -x "$build/bench/recommend_bench" ]; then
    # shellcheck disable=SC2086  # RECOMMEND_BENCH_ARGS is a list of flags (--skip-1m ...)
    "$build/bench/recommend_bench" ${RECOMMEND_BENCH_ARGS:-} 2>/dev/null ||
      { echo "run-all: recommend_bench failed" >&2; status=1; }
  else
    echo "run-all: $build/bench/recommend_bench not found: build first" >&2
    status=1
  fi

  echo
  echo "== HTTP: bench/http_recommend.sh"
  bash "$here/http_recommend.sh" "$build" || { echo "run-all: http_recommend.sh failed" >&2; status=1; }
  return "$status"
}

mkdir -p "$build/bench"
run_all 2>&1 | tee "$build/bench/results.txt"
exit "${PIPESTATUS[0]}"
