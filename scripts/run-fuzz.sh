#!/usr/bin/env bash
# Runs each libFuzzer target of fuzz/ for FUZZ_SECONDS under ASan/UBSan, one after another,
# and writes the figures (executions, exec/s, libFuzzer's final cov: and ft:, corpus) to
# bench/fuzz_summary.md. Usage: run-fuzz.sh BUILD_DIR [TARGET...] (default: every target).
# The committed seeds (fuzz/corpus/TARGET) are read, never written: new inputs go to
# BUILD_DIR/fuzz-corpus/TARGET, crashes to BUILD_DIR/fuzz-artifacts/TARGET/. Exits 1 when a
# target crashed (after running the others).
set -uo pipefail

build=${1:?usage: run-fuzz.sh BUILD_DIR [TARGET...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-300}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(event_reader experiment_reader portfolio query_string http_request)
summary=${FUZZ_SUMMARY:-$root/bench/fuzz_summary.md}

max_len() {
  case $1 in
    query_string) echo 1024 ;;
    http_request | event_reader) echo 16384 ;;
    *) echo 8192 ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

{
  echo "# Fuzzing figures ($(date -u +%Y-%m-%dT%H:%MZ), ${seconds} s per target, $(nproc) cores shared)"
  echo
  echo "| target | executions | exec/s | cov | ft | corpus (files/bytes) | max_len | crashes |"
  echo "|---|---:|---:|---:|---:|---|---:|---|"
} > "$summary"

status=0
for t in "${targets[@]}"; do
  exe=$build/fuzz/${t}_fuzz
  work=$build/fuzz-corpus/$t
  artifacts=$build/fuzz-artifacts/$t/
  log=$build/fuzz-logs/$t.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  args=(-max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts")
  [ -f "$root/fuzz/$t.dict" ] && args+=(-dict="$root/fuzz/$t.dict")
  seeds=("$root/fuzz/corpus/$t")
  [ -d "$root/fuzz/regressions/$t" ] && seeds+=("$root/fuzz/regressions/$t")
  echo "fuzz: $t for ${seconds} s: $exe ${args[*]} $work ${seeds[*]}" >&2
  "$exe" "${args[@]}" "$work" "${seeds[@]}" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  files=$(find "$work" -type f | wc -l)
  bytes=$(du -sb "$work" | cut -f1)
  crashes=$(find "$artifacts" -type f | wc -l)
  [ "$rc" -eq 0 ] || status=1
  echo "| $t | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | $files / $bytes | $(max_len "$t") | $crashes (exit $rc) |" >> "$summary"
  echo "fuzz: $t: exit $rc, $last" >&2
done
echo >> "$summary"
echo "Command: \`FUZZ_SECONDS=$seconds bash scripts/run-fuzz.sh $build ${targets[*]}\` (\`make fuzz\` runs it on every target; logs in $build/fuzz-logs/)." >> "$summary"
cat "$summary"
exit $status
