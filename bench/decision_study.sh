#!/usr/bin/env bash
# The decision path's error rates and power (issue 13), as bench/README.md's table: the
# report's own functions (analysis/experiment_monitor.h) read at every look of simulated
# experiments with known truth, through `abrec simulate aa|power`.
#   A/A: 10,000 runs each (RUNS_AA), 100 looks of 400 users (the setting issue 13 measured),
#        1, 2 and 4 treatments, bind rate 1% and 4%, and heavy-tailed premium as the primary
#        metric (lognormal sigma 1.5).
#   power: the first treatment +2%, +5% or +10% on the primary metric, with as many users as
#        `abrec plan` asks for to detect +10% with 80% power (sequential), over 50 looks;
#        RUNS_POWER runs (1,000; half at bind rate 1%, whose experiments are four times
#        larger).
# Prints one markdown row per setting. ONLY=aa or ONLY=power runs one table. About an hour
# on 2 cores.
#   bash bench/decision_study.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
runs_aa=${RUNS_AA:-10000}
runs_power=${RUNS_POWER:-1000}
# A copy, so that a rebuild during the run does not replace the binary under it.
bin=$(mktemp /tmp/abrec-decision-study.XXXXXX)
cp "$build/abrec" "$bin"
chmod +x "$bin"
trap 'rm -f "$bin"' EXIT

here=$(cd "$(dirname "$0")" && pwd)
row() { /usr/bin/python3 "$here/decision_table.py" aa "$1"; }

if [ "${ONLY:-aa}" = aa ] || [ -z "${ONLY:-}" ]; then
echo "### A/A: ever decided ship, clickbait or stop_guardrail (alpha 0.05)"
echo
echo "| setting | runs | wrong decisions (se) | ship | clickbait | stop_guardrail | wrong by look 5 (≤ 2,000 users) | untrustworthy_srm | delta-method relative sequence, no correction (GrowthBook's defaults, abrec before #13) | fixed horizon peeked daily |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for k in 1 2 4; do
  for p in 0.04 0.01; do
    "$bin" simulate aa --runs "$runs_aa" --variants "$k" --base-rate "$p" --format json |
      row "bind rate $p, $k treatment(s)"
  done
  "$bin" simulate aa --runs "$runs_aa" --variants "$k" --metric premium_per_user \
    --premium-sigma 1.5 --format json | row "premium (lognormal σ 1.5), $k treatment(s)"
done
"$bin" simulate aa --runs "$runs_aa" --analysis fixed --variants 2 --format json |
  row "bind rate 0.04, 2 treatments, fixed horizon at the end"
"$bin" simulate aa --runs "$runs_aa" --metric premium_per_user --premium-sigma 1.5 --cap 0.99 \
  --format json | row "premium (σ 1.5) capped at its 0.99 quantile, 1 treatment"
fi
[ "${ONLY:-power}" = power ] || [ -z "${ONLY:-}" ] || exit 0

echo
echo "### Power: the first treatment changes the primary metric; sized by the plan for +10%"
echo
echo "| setting | runs | users per arm (plan, sequential) | +2% shipped | +5% shipped | +10% shipped | median share of the users at ship (+10%) |"
echo "|---|---|---|---|---|---|---|"
power() {  # power LABEL RUNS ARGS...
  local label=$1 runs=$2
  shift 2
  "$bin" simulate power --runs "$runs" --looks 50 --size-for-mde 0.1 --effect 0.02,0.05,0.1 \
    --format json "$@" | /usr/bin/python3 "$here/decision_table.py" power "$label" "$runs"
}
for k in 1 2 4; do
  power "bind rate 0.04, $k treatment(s)" "$runs_power" --variants "$k" --base-rate 0.04
  power "bind rate 0.01, $k treatment(s)" "$((runs_power / 2))" --variants "$k" --base-rate 0.01
  power "premium (σ 1.5), $k treatment(s)" "$runs_power" --variants "$k" \
    --metric premium_per_user --premium-sigma 1.5
done
