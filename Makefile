# abrec: the two commands of the README, and the benchmarks.
#   make run    install dependencies, build, start the service on 127.0.0.1:8080
#   make test   install dependencies, build, run every test through ctest
#   make bench  benchmarks (figures in bench/README.md)
#   make fuzz   each libFuzzer target for FUZZ_SECONDS under ASan/UBSan (bench/README.md)
#   make soak   soak test, SOAK_SECONDS (30 min): mixed traffic, reloads, SIGKILL + restart

BUILD      ?= build
BUILD_SAN  ?= build-sanitize
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 300
JOBS       ?= 2
CONFIG     ?= config/abrec.yaml
CTEST_ARGS ?=
SOAK_SECONDS ?= 1800
SOAK_KILL_EVERY ?= 180

CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build run test test-fast test-sanitize bench fuzz soak golden clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The first run trains a default model on the built-in synthetic portfolio (20,000 customers,
# a few seconds) and precomputes its candidates, so the service recommends from the start;
# it also creates one local API key per scope, printed and kept in var/local-keys.env (mode
# 0600, for this machine's examples: the service itself stores only their hashes).
MODEL_DIR ?= var/models
LOCAL_KEYS ?= var/local-keys.env
run: build
	@if [ -z "$$(ls $(MODEL_DIR)/hybrid 2>/dev/null)" ]; then \
	  echo "no model yet: training the default one on the synthetic portfolio"; \
	  $(BUILD)/abrec train --format synthetic --out $(MODEL_DIR)/hybrid/synthetic-v1 && \
	  $(BUILD)/abrec precompute --config $(CONFIG); \
	fi
	@if [ ! -f $(LOCAL_KEYS) ]; then \
	  umask 077 && mkdir -p $$(dirname $(LOCAL_KEYS)) && : > $(LOCAL_KEYS).tmp && \
	  for s in serve read admin; do \
	    k=$$($(BUILD)/abrec keys create --config $(CONFIG) --scope $$s --name local-$$s) || exit 1; \
	    echo "ABREC_$$(echo $$s | tr a-z A-Z)_KEY=$$k" >> $(LOCAL_KEYS).tmp; \
	  done && mv $(LOCAL_KEYS).tmp $(LOCAL_KEYS) && \
	  echo "local API keys (also in $(LOCAL_KEYS); source it for the README's examples):" && \
	  cat $(LOCAL_KEYS); \
	fi
	$(BUILD)/abrec serve --config $(CONFIG)

# Every test: the release build (unit, integration), then the sanitizer build
# (ABREC_SANITIZE=address;undefined) on the unit and integration tests.
test: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure $(CTEST_ARGS)
	$(MAKE) --no-print-directory test-sanitize

test-fast: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure -L unit $(CTEST_ARGS)

# The sanitizer build is Debug (assertions on), the computing libraries at -O1
# (cmake/AbrecTarget.cmake, ABREC_SANITIZE_OPTIMIZED). Its warnings are not errors: the
# release build holds the code to -Werror, and GCC 12's flow warnings are unreliable under
# -fsanitize once optimising (-Wmaybe-uninitialized fires inside libstdc++'s std::regex).
test-sanitize: deps
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DABREC_WERROR=OFF \
	  "-DABREC_SANITIZE=address;undefined" -DABREC_BUILD_BENCH=OFF
	cmake --build $(BUILD_SAN) -j $(JOBS)
	cd $(BUILD_SAN) && ctest -j $(JOBS) --output-on-failure -L "unit|integration" $(CTEST_ARGS)

bench: build
	@bash scripts/install-deps.sh --bench
	bash bench/run-all.sh $(BUILD)

# Bench time, not CI (CI replays the corpora through the *_replay tests): clang 14 with
# libFuzzer, every target under ASan/UBSan, each fuzzer run FUZZ_SECONDS one after another.
FUZZ_TARGETS = event_reader experiment_reader portfolio query_string http_request
fuzz: deps
	@bash scripts/install-deps.sh --fuzz
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DABREC_FUZZ=ON
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target $(addsuffix _fuzz,$(FUZZ_TARGETS))
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/run-fuzz.sh $(BUILD_FUZZ) $(FUZZ_TARGETS)

# Bench time, not CI: SOAK_SECONDS of mixed traffic with config reloads and a SIGKILL +
# restart every SOAK_KILL_EVERY s; checks that no acknowledged event is lost or doubled.
# Results in bench/soak/ (summary.md, soak.svg); bench/README.md, "Soak".
soak: build
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_KILL_EVERY=$(SOAK_KILL_EVERY) python3 bench/soak.py $(BUILD)

# The layout move's (issue 15) check: the CLI's and an in-process scenario's answers against
# those recorded before the move (tests/golden/answers), times and ids normalised.
golden: build
	/usr/bin/python3 tests/golden/golden.py check $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)
