#!/usr/bin/env bash
# Nightly retraining: a new model version from what the service logged, live only if the
# deployment gate passes.
#
#   scripts/nightly-retrain.sh [--abrec BIN] [--config FILE] [--model NAME] [--target bind]
#
# 1. `abrec train --from-events` on the service's database (storage.path, read-only) into a
#    staging folder the model registry does not watch (MODEL_DIR/../models-staging/NAME/VERSION);
# 2. `abrec gate` against the rule-based recommender (what control shows);
# 3. only when it passes, the folder is moved into MODEL_DIR/NAME/, where the service picks it
#    up as the newest version (hot swap). A refused version stays in staging with the gate's
#    reasons in REFUSED.txt, and the script exits 1.
# A cron line: 0 3 * * * cd /srv/abrec && scripts/nightly-retrain.sh >> var/retrain.log 2>&1
set -euo pipefail

abrec=build/abrec
config=config/abrec.yaml
model=hybrid
target=bind
while [ $# -gt 0 ]; do
  case "$1" in
    --abrec) abrec=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    *) echo "nightly-retrain: unknown option $1" >&2; exit 2 ;;
  esac
done

# The paths the service uses, resolved against the config's folder as the service does.
config_dir=$(cd "$(dirname "$config")" && pwd)
setting() {  # the value of `KEY:` in the config (first occurrence), without comments
  sed -n "s/^[[:space:]]*$1:[[:space:]]*\([^#[:space:]]*\).*/\1/p" "$config" | head -1
}
resolve() { case "$1" in /*) echo "$1" ;; *) echo "$config_dir/$1" ;; esac; }
database=$(resolve "$(setting path)")
model_dir=$(resolve "$(setting model_dir)")
catalog=$(resolve "$(setting catalog)")
ranking=$(resolve "$(setting ranking)")
gate_rules=$(resolve "$(setting gate)")
version=$(date -u +%Y%m%dT%H%M%SZ)
staging="$(dirname "$model_dir")/models-staging/$model/$version"
mkdir -p "$(dirname "$staging")"

echo "nightly-retrain $version: training $model on $database (target $target)"
"$abrec" train --from-events "$database" --out "$staging" --target "$target" --catalog "$catalog"
if "$abrec" gate --candidate "$staging" --baseline legacy_rules --catalog "$catalog" \
     --ranking "$ranking" --rules "$gate_rules" > "$staging/GATE.txt"; then
  cat "$staging/GATE.txt"
  mkdir -p "$model_dir/$model"
  mv "$staging" "$model_dir/$model/$version"
  echo "nightly-retrain $version: gate passed; $model_dir/$model/$version is live on the next poll"
else
  mv "$staging/GATE.txt" "$staging/REFUSED.txt"
  cat "$staging/REFUSED.txt"
  echo "nightly-retrain $version: gate refused; kept in $staging" >&2
  exit 1
fi
