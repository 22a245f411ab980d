#!/usr/bin/env bash
# Runs every benchmark of bench/ against an existing build: assign_bench, store_bench,
# stats_bench (with its scipy reference), quality_bench, report_bench, http_assign.sh,
# http_events.sh, http_scrape.sh (assign while /metrics and reports are scraped). Builds nothing (`make bench` builds first, then runs
# `bash bench/run-all.sh build`).
# Then the recommender's speed and memory: recommend_bench (training at 20,000 and 1,000,000
# customers, latencies at 21 and 10,000 products, about 10 minutes on 2 cores;
# RECOMMEND_BENCH_ARGS="--skip-1m" shortens it) and http_recommend.sh at 21 and at 10,000
# products. Last, the closed loop: the seed campaign scenario (about 20 s).
#
#   bash bench/run-all.sh BUILD_DIR
#
# Results go to stdout and to BUILD_DIR/bench/results.txt. The exit status is non-zero when
# a benchmark could not run; a missed target is reported in the output, not as a failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: bash bench/run-all.sh BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" 2>/dev/null && pwd) || { echo "run-all: no build directory $1" >&2; exit 2; }

# run_bin QUIET TITLE BIN [ARGS...]: runs $build/bench/BIN (its stderr dropped when QUIET is
# 1); non-zero when it is missing or fails.
run_bin() {
  local quiet=$1 title=$2 bin=$3
  shift 3
  echo
  echo "== $title: $build/bench/$bin $*"
  if [ ! -x "$build/bench/$bin" ]; then
    echo "run-all: $build/bench/$bin not found: build first" >&2
    return 1
  fi
  if [ "$quiet" = 1 ]; then "$build/bench/$bin" "$@" 2>/dev/null; else "$build/bench/$bin" "$@"; fi ||
    { echo "run-all: $bin failed" >&2; return 1; }
}

# run_script SCRIPT: runs bench/SCRIPT on the build; non-zero when it fails.
run_script() {
  echo
  echo "== HTTP: bench/$1"
  bash "$here/$1" "$build" || { echo "run-all: $1 failed" >&2; return 1; }
}

run_all() {
  local status=0
  echo "== abrec benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)," \
       "load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null))"

  run_bin 0 "in-process assignment" assign_bench || status=1
  run_bin 1 "in-process ingest through the event store" store_bench || status=1
  run_bin 0 "statistics of one experiment from its aggregates" stats_bench || status=1
  if [ -x "$build/bench/stats_bench" ]; then
    /usr/bin/python3 "$here/stats_reference.py" || { echo "run-all: stats_reference.py failed" >&2; status=1; }
  fi
  run_bin 1 "recommender quality on the real portfolios" quality_bench || status=1
  run_bin 1 "the analyst's report from the aggregates of 10 M events" report_bench || status=1
  run_script http_assign.sh || status=1
  run_script http_events.sh || status=1
  run_script http_scrape.sh || status=1
  # shellcheck disable=SC2086  # RECOMMEND_BENCH_ARGS is a list of flags (--skip-1m ...)
  run_bin 1 "recommender speed and memory in-process" recommend_bench ${RECOMMEND_BENCH_ARGS:-} ||
    status=1
  run_script http_recommend.sh || status=1
  echo
  echo "== HTTP: bench/http_recommend.sh, 10,000 products"
  PRODUCTS=10000 SKIP_PEER=1 bash "$here/http_recommend.sh" "$build" ||
    { echo "run-all: http_recommend.sh (10,000 products) failed" >&2; status=1; }
  # The closed loop: the seed document's campaign on the ground-truth world (a study, timed).
  echo
  echo "== closed loop: abrec simulate scenario config/scenarios/seed_campaign.yaml"
  local started=$SECONDS
  "$build/abrec" simulate scenario "$here/../config/scenarios/seed_campaign.yaml" \
    --config "$here/../config/abrec.yaml" 2>/dev/null ||
    { echo "run-all: the seed campaign scenario failed a check" >&2; status=1; }
  echo "seed campaign: $((SECONDS - started)) s"
  # Across seeds of the short campaign: no decision contradicts the world's truth (a ship
  # whose true bind effect is not positive, a click-bait whose true bind effect is not
  # negative).
  echo
  echo "== closed loop across seeds: bench/scenario_seeds.sh"
  bash "$here/scenario_seeds.sh" "$build" || { echo "run-all: scenario_seeds.sh failed" >&2; status=1; }
  # The decision path's error rates and power (about 40 minutes).
  echo
  echo "== decisions at their promised error rates: bench/decision_study.sh"
  bash "$here/decision_study.sh" "$build" || { echo "run-all: decision_study.sh failed" >&2; status=1; }
  return "$status"
}

mkdir -p "$build/bench"
run_all 2>&1 | tee "$build/bench/results.txt"
exit "${PIPESTATUS[0]}"
