# dispatchd -- the README's two commands, and the rest.
#   make demo   installs what is missing, builds, runs the pipeline demo
#   make test   installs what is missing, builds three ways, runs every test
.PHONY: all bootstrap build build-asan build-tsan build-fuzz demo test test-release test-asan test-tsan \
        test-fuzz fuzz \
        bench-runtime bench-consume bench-storage bench-classify bench-ws bench-sync bench-dlq bench-status bench-e2e docker-test clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release

build-asan: bootstrap
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan

build-tsan: bootstrap
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan

build-fuzz: bootstrap
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz

demo: build
	@scripts/demo

# Release runs everything, real Kafka and PostgreSQL included; ASan+UBSan
# runs everything again; TSan runs the runtime's tests; each fuzz target
# runs for 10 s.
test: test-release test-asan test-tsan test-fuzz

test-release: build
	ctest --test-dir build --output-on-failure

test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  PG_RESTART_EVENTS=30000 RATE_LIMIT_EVENTS=300 CHAOS_EVENTS=1000 WS_CYCLES_RSS_KB=65536 WS_SLOW_EVENTS=4000 WS_SLOW_MEASURE=0 \
	  ctest --test-dir build-asan --output-on-failure

test-tsan: build-tsan
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan -L runtime --output-on-failure

test-fuzz: build-fuzz
	scripts/fuzz 10

# Longer fuzzing, by hand: FUZZ_SECONDS per target.
fuzz: build-fuzz
	scripts/fuzz $${FUZZ_SECONDS:-600}

bench-runtime: build
	@build/dispatchd bench runtime $$([ -x build/bench/savina_caf ] && echo --peer build/bench/savina_caf)

bench-consume: build
	@bench/consume/bench_consume.sh

bench-storage: build
	@bench/storage/bench_storage.sh

bench-classify: build
	@bench/classify/bench_classify.sh

bench-ws: build
	@bench/ws/bench_ws.sh

bench-sync: build
	@bench/sync/bench_sync.sh

bench-dlq: build
	@bench/dlq/bench_dlq.sh

bench-status: build
	@bench/status/bench_status.sh

bench-e2e: build
	@bench/e2e/bench_e2e.sh

# The deployment in a real container engine (rootful Podman): see the script.
docker-test:
	@docker/test-stack.sh

clean:
	rm -rf build build-asan build-tsan build-fuzz
