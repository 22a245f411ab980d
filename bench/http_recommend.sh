#!/usr/bin/env bash
# HTTP benchmark of GET /v1/recommend/{user_id} (precomputed candidates) and POST
# /v1/recommend (attributes in the body), paced to about 2,000 req/s and unpaced, side by side
# with the seed peer's cache-hit path paced the same way.
#
#   bash bench/http_recommend.sh [BUILD_DIR]      (default: build/ of this checkout)
#
# 1. A temporary workspace (bench/lib.sh) with recommender.catalog and recommender.ranking
#    pointed at this checkout's config/catalog.yaml and config/ranking.yaml, and the model
#    folder and the candidate cache (SQLite) in the temporary directory.
# 2. abrec train --format synthetic --customers 20000 into MODEL_DIR/hybrid/bench, then
#    abrec precompute --customers 20000: cust-000000 … cust-019999 get their attributes and
#    top 50 candidates in the cache. abrec assign --format json sorts them by arm of
#    recsys_v2_hybrid: the treatment ids (policy recommender) are the target's path.
# 3. abrec serve, and a check that GET /v1/recommend of one treatment id answers 200 with
#    policy recommender, candidates from the cache and no fallback.
# 4. wrk -t2 -cC -d10s --latency -s bench/recommend.lua, paced with wrk's delay() hook
#    (WRK_DELAY_MS=16 per connection; C chosen from a 3 s calibration run so that
#    C / (16 ms + mean latency) ≈ 2,000 req/s; wrk has no constant-rate mode, so the achieved
#    rate is reported as measured):
#      GET, treatment ids (the target's path), paced;
#      GET, all 20,000 precomputed ids (both arms, holdout, exploration), paced;
#      POST /v1/recommend with attributes drawn per request, treatment ids, paced;
#      GET, treatment ids, unpaced (maximum throughput, same connections).
#    Every answer waits for its exposure's commit (synchronous FULL), as in production.
# 5. The seed peer (../shared/peers/run-seed-peer.sh PEER_PORT 2), GET /recommend/u{n},
#    paced the same way (same C and delay) and unpaced.
# 6. A table (req/s, mean, p50, p99) and whether abrec met its target: p99 ≤ 10 ms at 2,000
#    req/s on the 21-product catalog, 20 ms at 10,000 (achieved rate ≥ 1,900 req/s counts as 2,000). Missing
#    it is reported, not an error; the exit status is non-zero only when a benchmark could
#    not run.
#
# Environment: BENCH_DURATION (default 10s), CUSTOMERS (default 20000), TARGET_RPS (2000),
# PACE_DELAY_MS (16), PEER_PORT (8000), SKIP_PEER=1 to measure abrec only.
#
# PRODUCTS=10000 runs the same on a synthetic catalog of that many products (target p99 ≤
# 20 ms): the 21 shipped products plus variants <id>_vNNNN, each a copy of product
# (n mod 21) with its premium jittered ±20% (as recommend_bench's), written to the temporary
# directory and named in the workspace's recommender.catalog. The model is trained on
# TRAIN_CUSTOMERS (default 2000) customers, whose held-out evaluation scores every product;
# CUSTOMERS defaults to 2000 precomputed customers (about 3 holdings each, as at 21
# products). Precompute searches 10,000 products exactly (HNSW starts past 20,000).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build}
duration=${BENCH_DURATION:-10s}
products=${PRODUCTS:-21}
if [ "$products" -gt 21 ]; then
  customers=${CUSTOMERS:-2000}
  train_customers=${TRAIN_CUSTOMERS:-2000}
  mf_epochs=${MF_EPOCHS:-30}
  target_p99_ms=20
else
  customers=${CUSTOMERS:-20000}
  train_customers=${TRAIN_CUSTOMERS:-$customers}
  mf_epochs=${MF_EPOCHS:-30}
  target_p99_ms=10
fi
target_rps=${TARGET_RPS:-2000}
delay_ms=${PACE_DELAY_MS:-16}
peer_port=${PEER_PORT:-8000}
peer_script=$root/../shared/peers/run-seed-peer.sh

# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_setup http_recommend

declare -a rows=()

# run_wrk NAME URL CONNECTIONS DELAY_MS LUA_ARGS...: runs wrk with bench/recommend.lua,
# appends a row to the table.
run_wrk() {
  local name=$1 url=$2 connections=$3 delay=$4
  shift 4
  WRK_DELAY_MS=$delay wrk_run "$name" "$tmp/wrk-$RANDOM.txt" -t2 -c"$connections" \
    -d"$duration" --latency -s "$here/recommend.lua" "$url" -- "$@"
  rows+=("$(printf '%-58s %4s %5s %9.0f %9s %9s %9s' "$name" "$connections" \
    "$([ "$delay" -gt 0 ] && echo "${delay}ms" || echo none)" "$w_rps" "$w_mean_ms" \
    "$w_p50_ms" "$w_p99_ms")")
}

# pace_connections URL LUA_ARGS...: a 3 s paced run with 32 connections; prints C such that
# C / (delay + mean latency) ≈ target_rps (at least 2, at most 256).
pace_connections() {
  local url=$1 out=$tmp/calibrate.txt mean
  shift
  WRK_DELAY_MS=$delay_ms wrk "${auth[@]}" -t2 -c32 -d3s --latency -s "$here/recommend.lua" "$url" -- "$@" \
    >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed in the calibration run"; }
  mean=$(to_ms "$(awk '$1 == "Latency" && NF >= 4 {print $2; exit}' "$out")")
  awk -v r="$target_rps" -v d="$delay_ms" -v m="$mean" 'BEGIN {
    c = int(r * (d + m) / 1000 + 0.999); if (c < 2) c = 2; if (c > 256) c = 256; print c }'
}

# --- workspace, model, cache ----------------------------------------------------------------

ws=$tmp/abrec
abrec_workspace "$ws"
grep -q "^  cache: sqlite" "$ws/abrec.yaml" || die "recommender.cache of config/abrec.yaml is not sqlite"
model_dir=$(sed -n 's|^  model_dir: *\([^ ]*\).*|\1|p' "$ws/abrec.yaml" | head -1)
case $model_dir in "$ws"/var/*) ;; *) die "recommender.model_dir is not under ../var/: $model_dir" ;; esac
grep -q "^  cache_path: $ws/var/" "$ws/abrec.yaml" || die "recommender.cache_path is not under ../var/"

catalog=$root/config/catalog.yaml
if [ "$products" -gt 21 ]; then
  catalog=$tmp/catalog-$products.yaml
  /usr/bin/python3 - "$root/config/catalog.yaml" "$catalog" "$products" <<'PY' ||
import copy, random, sys, yaml
shipped, out, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(shipped) as f:
    doc = yaml.safe_load(f)
base = list(doc["products"])
n = len(base)
rng = random.Random(10000)
for j in range(n, total):
    p = copy.deepcopy(base[j % n])
    p["id"] = f"{p['id']}_v{j - n + 1:04d}"
    p["name"] = f"{p['name']} (variant {j - n + 1})"
    p["annual_premium"] = round(p["annual_premium"] * rng.uniform(0.8, 1.2), 2)
    doc["products"].append(p)
with open(out, "w") as f:
    yaml.safe_dump(doc, f, sort_keys=False)
PY
    die "could not write the $products-product catalog"
  sed -i "s|^\(  catalog:\) .*|\1 $catalog|" "$ws/abrec.yaml"
  grep -q "^  catalog: $catalog" "$ws/abrec.yaml" || die "could not point the workspace at $catalog"
  echo "== a catalog of $products products: $catalog"
fi

echo "== training a $train_customers-customer model ($mf_epochs MF epochs) into $model_dir/hybrid/bench"
mkdir -p "$model_dir/hybrid"
train_start=$(date +%s.%N)
"$build/abrec" train --format synthetic --out "$model_dir/hybrid/bench" \
  --customers "$train_customers" --mf-epochs "$mf_epochs" --catalog "$catalog" 2>"$tmp/train.log" ||
  { cat "$tmp/train.log" >&2; die "abrec train failed"; }
train_s=$(awk -v a="$train_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "trained in $train_s s (wall, abrec train)"

echo "== abrec precompute --customers $customers"
"$build/abrec" precompute --config "$ws/abrec.yaml" --customers "$customers" 2>"$tmp/precompute.log" ||
  { cat "$tmp/precompute.log" >&2; die "abrec precompute failed"; }

# The ids, and the treatment arm's among them.
seq -f 'cust-%06g' 0 $((customers - 1)) >"$tmp/all_ids.txt"
xargs -a "$tmp/all_ids.txt" -n 2000 "$build/abrec" assign --config "$ws/abrec.yaml" \
  --format json --experiment recsys_v2_hybrid >"$tmp/assign.jsonl" ||
  die "abrec assign failed"
grep '"policy":"recommender"' "$tmp/assign.jsonl" |
  sed 's/.*"user_id":"\([^"]*\)".*/\1/' >"$tmp/treatment_ids.txt"
n_treatment=$(wc -l <"$tmp/treatment_ids.txt")
[ "$n_treatment" -gt 100 ] || die "only $n_treatment precomputed ids are in treatment"
echo "$n_treatment of $customers precomputed ids are in treatment of recsys_v2_hybrid"

# --- abrec ------------------------------------------------------------------------------------

abrec_start "$ws"
port=$abrec_port
url=http://127.0.0.1:$port
sample_id=$(head -1 "$tmp/treatment_ids.txt")
sample=$(curl -fsS "${auth[@]}" "$url/v1/recommend/$sample_id") || die "GET /v1/recommend/$sample_id does not answer 200"
echo "abrec serve on 127.0.0.1:$port; GET /v1/recommend/$sample_id answers:"
echo "${sample:0:600}…"
case $sample in *'"policy":"recommender"'*) ;; *) die "$sample_id is not served by the recommender policy" ;; esac
case $sample in *'"candidates":"cache"'*) ;; *) die "$sample_id's candidates did not come from the cache" ;; esac
case $sample in *'"fallback":null'*) ;; *) die "$sample_id got a fallback list" ;; esac
post_sample=$(curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -d "{\"user_id\":\"$sample_id\",\"attributes\":{\"age\":34,\"sex\":\"F\",\"region\":\"north\",\"occupation\":\"employed\",\"holdings\":[\"pet\"]}}" "$url/v1/recommend") ||
  die "POST /v1/recommend does not answer 200"
case $post_sample in *'"candidates":"cache"'*) ;; *) die "POST /v1/recommend did not use the cached candidates: $post_sample" ;; esac

connections=$(pace_connections "$url" get "$tmp/treatment_ids.txt")
echo
echo "pacing: $connections connections × one request per (${delay_ms} ms + latency) ≈ $target_rps req/s"

run_wrk "abrec GET /v1/recommend/{id}, treatment, paced" "$url" "$connections" "$delay_ms" \
  get "$tmp/treatment_ids.txt"
paced_rps=$w_rps paced_p99=$w_p99_ms paced_p50=$w_p50_ms paced_mean=$w_mean_ms
run_wrk "abrec GET /v1/recommend/{id}, all arms, paced" "$url" "$connections" "$delay_ms" \
  get "$tmp/all_ids.txt"
run_wrk "abrec POST /v1/recommend + attributes, treatment, paced" "$url" "$connections" \
  "$delay_ms" post "$tmp/treatment_ids.txt"
run_wrk "abrec GET /v1/recommend/{id}, treatment, unpaced" "$url" "$connections" 0 \
  get "$tmp/treatment_ids.txt"
echo
echo "abrec's recommender metrics after the runs:"
curl -fsS "${auth[@]}" "$url/metrics" | grep -E '^abrec_(recommend|fallback|model|pipeline)[a-z_]*' | head -20 || true
abrec_stop

# --- the seed peer ------------------------------------------------------------------------------

if [ "${SKIP_PEER:-}" != 1 ]; then
  seed_peer_start
  run_wrk "seed peer GET /recommend/u{n} (cache hit), paced" "http://127.0.0.1:$peer_port" \
    "$connections" "$delay_ms" peer
  run_wrk "seed peer GET /recommend/u{n} (cache hit), unpaced" "http://127.0.0.1:$peer_port" \
    "$connections" 0 peer
fi

echo
echo "== /v1/recommend vs the seed peer (wrk -t2 -d$duration --latency; $(nproc) cores shared by"
echo "   wrk and the server; $products products; latencies in ms; load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-58s %4s %5s %9s %9s %9s %9s\n' "service" "conn" "delay" "req/s" "mean" "p50" "p99"
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "model: $train_customers customers, $products products, trained in $train_s s; $n_treatment treatment ids of $customers precomputed"
if awk -v r="$paced_rps" -v p="$paced_p99" -v tr="$target_rps" -v tp="$target_p99_ms" \
     'BEGIN { exit !(r >= 0.95 * tr && p <= tp) }'; then
  echo "target (p99 <= $target_p99_ms ms at $target_rps req/s, treatment, precomputed candidates): met," \
       "$paced_rps req/s, p50 $paced_p50 ms, p99 $paced_p99 ms, mean $paced_mean ms"
else
  echo "target (p99 <= $target_p99_ms ms at $target_rps req/s, treatment, precomputed candidates): MISSED," \
       "$paced_rps req/s, p50 $paced_p50 ms, p99 $paced_p99 ms, mean $paced_mean ms"
fi
echo "note: every abrec answer waits for its exposure's commit (WAL, synchronous FULL); the peer"
echo "      does one Redis GET and json.loads, with no assignment, scoring or logging."
