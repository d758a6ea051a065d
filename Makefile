# Runnel — two commands: `make run` and `make test`. See README.md.
SWIFT        ?= swift
DATA_DIR     ?= ./runnel-data
LISTEN       ?= 127.0.0.1:4437
SEEDS        ?= 200
START        ?= 1
# Test parallelism: the integration tests start real processes; 2 workers suit 2 cores.
TEST_WORKERS ?= 2

.PHONY: deps build release run cluster test test-deep sim fuzz bench clean

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product runnel

## Starts one node on $(LISTEN) with its data in $(DATA_DIR).
run: release
	./.build/release/runnel serve --listen $(LISTEN) --data-dir $(DATA_DIR)

## Three nodes on loopback (HTTP 4437-4439, peers 4447-4449), data in ./runnel-cluster.
cluster: release
	./scripts/cluster.sh

## Builds everything and runs every test (unit, simulator, integration with real processes).
test: deps
	$(SWIFT) build --build-tests
	@# This includes FuzzTests with its short fixed budget (2 seeds; `make fuzz` runs longer).
	RUNNEL_BINARY=$(CURDIR)/.build/debug/runnel $(SWIFT) test --skip-build --parallel --num-workers $(TEST_WORKERS) --skip "ConformanceTests|StateTransferTests|FollowerStallTests"
	@# The heavy state-transfer tests on their own, so their load does not skew the timing
	@# assertions of the parallel run.
	RUNNEL_BINARY=$(CURDIR)/.build/debug/runnel $(SWIFT) test --skip-build --filter "StateTransferTests|FollowerStallTests"
	@# The protocol suite on its own: some of its cases (TTL sliding windows) allow 0.5 s of
	@# slack, which two cores shared with the rest of the suite do not always give.
	@# This pass turns the event-loop paths off (`--fast-appends`, `--sse-fanout`;
	@# docs/hot-path.md), so the async paths they stand in for stay checked; the others run
	@# with them on, the default.
	RUNNEL_FAST_APPENDS=0 RUNNEL_SSE_FANOUT=0 RUNNEL_BINARY=$(CURDIR)/.build/debug/runnel $(SWIFT) test --skip-build --filter ConformanceTests
	@# Again against a 3-node cluster, each request to a random node, with authentication on
	@# (every request carries an API key made for the run; docs/access-control.md).
	RUNNEL_CONFORMANCE_NODES=3 RUNNEL_CONFORMANCE_AUTH=1 RUNNEL_BINARY=$(CURDIR)/.build/debug/runnel $(SWIFT) test --skip-build --filter ConformanceTests
	@# And once over HTTPS, with a throwaway certificate the run makes, authenticated too.
	RUNNEL_CONFORMANCE_TLS=1 RUNNEL_CONFORMANCE_AUTH=1 RUNNEL_BINARY=$(CURDIR)/.build/debug/runnel $(SWIFT) test --skip-build --filter ConformanceTests
	$(MAKE) --no-print-directory test-helm

## Helm chart tests (helm lint, rendered manifests against Kubernetes schemas, entrypoint logic).
.PHONY: test-helm
test-helm:
	./scripts/test-helm.sh

## The deeper runs of issue 15's tests: a 256 MiB state transferred to a joining node, a
## follower stopped while 512 MiB are appended (about 10 minutes on two cores).
.PHONY: test-deep
test-deep: deps
	$(SWIFT) build --build-tests
	RUNNEL_TRANSFER_MIB=256 RUNNEL_STALL_MIB=512 RUNNEL_BINARY=$(CURDIR)/.build/debug/runnel \
	$(SWIFT) test --skip-build --filter "StateTransferTests|FollowerStallTests"

## Runs the Raft cluster simulator over a seed range: make sim SEEDS=1000 START=1
sim: deps
	RUNNEL_SIM_SEEDS=$(SEEDS) RUNNEL_SIM_START=$(START) $(SWIFT) test --filter RaftSimulationTests

## The request fuzzer (docs/fuzzing.md) with a longer budget than the one in `make test`:
## FUZZ_SEEDS (a list or range) × FUZZ_REQUESTS HTTP/1.1 and FUZZ_HTTP2 HTTP/2 cases each, until
## FUZZ_DURATION seconds if set; slow clients must be cut off within FUZZ_IDLE_LIMIT seconds.
## Replay a finding: make fuzz SEED=7 [CASE=123 TRANSPORT=http1] [VERBOSE=1].
FUZZ_SEEDS    ?= 1-8
FUZZ_REQUESTS ?= 4000
FUZZ_HTTP2    ?= 800
FUZZ_DURATION ?=
FUZZ_IDLE_LIMIT ?= 60
fuzz: deps
	$(SWIFT) build --build-tests
	RUNNEL_FUZZ_SEEDS=$(if $(SEED),$(SEED),$(FUZZ_SEEDS)) RUNNEL_FUZZ_REQUESTS=$(FUZZ_REQUESTS) \
	RUNNEL_FUZZ_HTTP2_REQUESTS=$(FUZZ_HTTP2) RUNNEL_FUZZ_DURATION=$(FUZZ_DURATION) \
	RUNNEL_FUZZ_CASE=$(CASE) RUNNEL_FUZZ_TRANSPORT=$(TRANSPORT) RUNNEL_FUZZ_IDLE_LIMIT=$(if $(CASE),,$(FUZZ_IDLE_LIMIT)) \
	RUNNEL_FUZZ_VERBOSE=$(VERBOSE) \
	RUNNEL_BINARY=$(CURDIR)/.build/debug/runnel $(SWIFT) test --skip-build --filter FuzzTests

## Side-by-side benchmark (docs/benchmarks.md): the storage layer next to raw fdatasync, Runnel's
## own HTTP workloads (append, catch-up read, SSE fan-out; `runnel bench`), then Runnel
## single-node and 3-node next to Redis, NATS JetStream, etcd and rakaia in the shared
## harness (../shared/bench, or BENCH=dir); the tables go to docs/benchmarks/peers-latest.md.
bench: release
	./.build/release/runnel bench storage --data-dir /tmp/runnel-bench-$$$$
	./scripts/bench-http.sh
	./scripts/bench-peers.sh

## Micro-benchmarks (package-benchmark, its own package in Benchmarks/): runs every suite once
## in release, prints the figures, and checks them against Benchmarks/Thresholds/.
## After a deliberate change: cd Benchmarks && swift package --allow-writing-to-package-directory benchmark thresholds update
.PHONY: bench-micro
bench-micro: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark baseline update micro --no-progress
	cd Benchmarks && $(SWIFT) package benchmark baseline read micro --no-progress
	cd Benchmarks && $(SWIFT) package benchmark thresholds check micro --no-progress

clean:
	rm -rf .build
