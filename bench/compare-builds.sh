#!/usr/bin/env bash
# Two checkouts of abrec, each built in its own build/, benchmarked alternately (A, B, A, B):
# the in-process benchmarks and the HTTP ones, each side running its own bench/ scripts, so
# that a change's speed is judged against its parent in one session on one machine.
#
#   bash bench/compare-builds.sh TREE_A TREE_B [ROUNDS]
#
# e.g. git worktree add /tmp/before 2d19f02 && cmake -S /tmp/before -B /tmp/before/build
# -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build /tmp/before/build -j2, then
# bash bench/compare-builds.sh /tmp/before . Short runs (3-5 s each): about 7 minutes a round.
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: bash bench/compare-builds.sh TREE_A TREE_B [ROUNDS]" >&2; exit 2; }
rounds=${3:-2}
for t in "$1" "$2"; do
  [ -x "$t/build/bench/assign_bench" ] || { echo "compare-builds: build $t/build first" >&2; exit 2; }
done
for ((round = 1; round <= rounds; round++)); do
  for t in "$1" "$2"; do
    t=$(cd "$t" && pwd)
    b=$t/build
    echo "######## round $round: $t ($(git -C "$t" log --oneline -1 | cut -c1-7))" \
         "$(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "== assign_bench"; "$b/bench/assign_bench" 2>&1 | tail -4
    echo "== store_bench --seconds 3"; "$b/bench/store_bench" --seconds 3 2>/dev/null | tail -12
    echo "== stats_bench"; "$b/bench/stats_bench" 2>&1 | tail -6
    echo "== report_bench --events 1000000 --days 30 --users 100000 --runs 3"
    "$b/bench/report_bench" --events 1000000 --days 30 --users 100000 --runs 3 2>/dev/null | tail -8
    echo "== http_assign.sh"
    (cd "$t" && SKIP_PEER=1 BENCH_DURATION=5s bash bench/http_assign.sh "$b" 2>&1 | tail -8)
    echo "== http_events.sh"
    (cd "$t" && BENCH_DURATION=5s EVENT_BATCHES="1 1000" REFERENCE_SECONDS=2 \
       bash bench/http_events.sh "$b" 2>&1 | grep -A4 "batch     C")
    echo "== http_recommend.sh"
    (cd "$t" && SKIP_PEER=1 BENCH_DURATION=5s bash bench/http_recommend.sh "$b" 2>&1 |
       sed -n '/^service  /,$p' | head -8)
  done
done
