#!/usr/bin/env bash
# Installs every Debian package abrec needs to build, test and benchmark.
# Usage: install-deps.sh [--bench | --fuzz]. Idempotent: prints nothing and touches nothing when all packages are present.
# Needs root (or sudo) the first time only.
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config
  # libraries (Boost is Debian's default 1.74: libboost1.81-dev would remove python3-scipy)
  libboost-dev libsqlite3-dev nlohmann-json3-dev libeigen3-dev libyaml-cpp-dev libfmt-dev
  doctest-dev libxgboost-dev libhnswlib-dev libhiredis-dev
  # libcrypto: SHA-256 and constant-time comparison of API keys (auth/)
  libssl-dev
  # tests and benchmarks
  python3 curl wrk redis-server
  # the statistics tests take their reference values from scipy and statsmodels, run by
  # Debian's /usr/bin/python3
  python3-scipy python3-statsmodels
  # the dashboards' browser test (tests/integration/test_dashboard_browser.py)
  chromium
)
# `--bench` adds what only `make bench` needs: the seed's FastAPI + Redis reference peer
# (../shared/peers/run-seed-peer.sh).
if [ "${1:-}" = "--bench" ]; then
  packages+=(python3-fastapi python3-uvicorn python3-redis)
fi
# `--fuzz` adds what only `make fuzz` needs: clang 14 and libFuzzer (fuzz/).
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang-14 libfuzzer-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
