#!/usr/bin/env bash
# The short campaign (config/scenarios/short_campaign.yaml) on SEEDS ground-truth worlds
# (default 1-10): every decision against the world's truth. A ship whose true bind effect is
# ≤ 0, or a click-bait whose true bind effect is ≥ 0, contradicts it; the script prints each
# check and exits 1 on a contradiction.
#   bash bench/scenario_seeds.sh BUILD_DIR
set -uo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
seeds=${SEEDS:-$(seq 1 10)}
status=0
for seed in $seeds; do
  dir=$(mktemp -d /tmp/abrec-seeds.XXXXXX)
  "$build/abrec" simulate scenario "$here/../config/scenarios/short_campaign.yaml" \
    --config "$here/../config/abrec.yaml" --seed "$seed" --dir "$dir" --format json \
    2>/dev/null >"$dir/out.json"
  /usr/bin/python3 - "$seed" "$dir/out.json" <<'PY' || status=1
import json, sys
seed, path = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
bad = False
for s in doc["steps"]:
    if s["step"] != "check" or not s.get("truth"):
        continue
    bind = next(t for t in s["truth"] if t["metric"] == "bind_rate")
    clicks = next(t for t in s["truth"] if t["metric"] == "click_rate")
    wrong = ((s["decision"] == "ship" and bind["true_effect"] <= 0) or
             (s["decision"] == "clickbait" and (bind["true_effect"] >= 0 or clicks["true_effect"] <= 0)))
    covered = all(t["covered"] for t in s["truth"])
    bad = bad or wrong
    print(f"seed {seed:>2} {s['experiment']:<16} {s['decision']:<15} true bind {bind['true_effect']:+.4f} "
          f"clicks {clicks['true_effect']:+.4f}  intervals cover the truth: {covered}"
          f"{'  CONTRADICTS THE TRUTH' if wrong else ''}")
sys.exit(1 if bad else 0)
PY
  rm -rf "$dir"
done
exit "$status"
