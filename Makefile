# vopr: deterministic simulation testing for a VSR replicated database.
# Every target builds what it needs; Go modules come from the module proxy.

GO ?= go
VOPR := bin/vopr

.PHONY: vopr build test soak-real bench-real bench bench-micro bench-compare hash-compare pgo soak gate mutants lint fuzz clean

## vopr: build and run the main job (every scenario on a few seeds; summary table)
vopr: build
	./$(VOPR)

build:
	$(GO) build -buildvcs=auto -o $(VOPR) ./cmd/vopr

## test: the whole test suite (must stay under ~10 minutes on 2 cores)
test:
	$(GO) vet ./...
	$(GO) vet -tags vopr_mutants ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -count=1 -tags vopr_mutants -run Mutants ./scenarios/ ./cmd/vopr/

## soak-real: 3 kimberlite processes on loopback under client load, kill -9 and restart of
## random replicas for SOAK_REAL_DURATION (default 5m); then the client history is checked
## for linearizability (porcupine) and acknowledged writes reading back
SOAK_REAL_DURATION ?= 5m
soak-real:
	SOAK_REAL_DURATION=$(SOAK_REAL_DURATION) $(GO) test -count=1 -timeout 0 -v -run '^TestSoakReal$$' ./cmd/kimberlite/

## bench-real: throughput and p99/p99.9 commit latency of 3 kimberlite processes on loopback
## at max-batch-size 1 and 32, closed-loop clients, beside the performance scenario's
## prediction for the same settings and the gap (BENCH_REAL_OPS operations per batch size)
BENCH_REAL_OPS ?= 20000x
bench-real:
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkRealCluster$$' -benchtime $(BENCH_REAL_OPS) ./cmd/kimberlite/

## bench: the simulator's speed table: the swarm (checkers on and off), the performance
## scenario and each runbook scenario: simulated seconds per wall second, seeds per second,
## allocations per simulated second (BENCHTIME per row, default 3s), built with the vopr
## binary's profile (cmd/vopr/default.pgo, make pgo)
BENCHTIME ?= 3s
bench:
	$(GO) test -pgo=$(CURDIR)/cmd/vopr/default.pgo -run '^$$' -bench '^BenchmarkScenarios$$' -benchtime $(BENCHTIME) -count=1 ./scenarios/

## bench-micro: the component benchmarks (loop, network, disk, storage), 3 runs each
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -count=3 ./sim/ ./cluster/...

## bench-compare BASE=<commit>: build BASE and the working tree, run both on the same seeds,
## interleaved, for ROUNDS rounds; ratios HEAD/BASE (min/median/max) per workload
## BENCH_FLAGS: e.g. -scenarios swarm,performance -swarm-seeds 10 -seeds 4
ROUNDS ?= 5
BENCH_FLAGS ?=
bench-compare:
	@test -n "$(BASE)" || (echo "usage: make bench-compare BASE=<commit> [ROUNDS=5] [BENCH_FLAGS=...]"; exit 64)
	$(GO) run ./internal/basecompare bench -base $(BASE) -rounds $(ROUNDS) $(BENCH_FLAGS)

## hash-compare BASE=<commit>: 200 swarm seeds and 20 seeds of every scenario on BASE and the
## working tree; every outcome, event count and trace hash must be the same.
## HASH_FLAGS=-ignore-hash compares outcomes and event counts only (across a deliberate
## trace-hash change); -swarm-seeds N, -seeds N and -jobs N go there too.
HASH_FLAGS ?=
hash-compare:
	@test -n "$(BASE)" || (echo "usage: make hash-compare BASE=<commit> [HASH_FLAGS=-ignore-hash]"; exit 64)
	$(GO) run ./internal/basecompare hashes -base $(BASE) $(HASH_FLAGS)

## pgo: regenerate cmd/vopr/default.pgo, the CPU profile the Go compiler optimises the vopr
## binary with (profile-guided optimisation: go build picks it up by itself): the swarm, the
## performance scenario and every runbook scenario, PGO_BENCHTIME each (default 3s)
PGO_BENCHTIME ?= 3s
pgo:
	rm -f bin/pgo-*.prof
	mkdir -p bin
	for row in swarm/checkers_on performance replica_crash quorum_lost view_change_storm replication_lag \
	  assertion_failure disk_full rolling_upgrade; do \
	  $(GO) test -run '^$$' -bench "^BenchmarkScenarios$$/^$$row$$" -benchtime $(PGO_BENCHTIME) -count=1 \
	    -cpuprofile bin/pgo-$$(echo $$row | tr / _).prof -o bin/pgo-scenarios.test ./scenarios/ || exit 1; \
	done
	$(GO) tool pprof -proto bin/pgo-*.prof > cmd/vopr/default.pgo

## soak: a long campaign: 2000 swarm seeds, 200 seeds of every other scenario, determinism
soak: build
	./$(VOPR) swarm --seeds 2000 --jobs 2
	for s in $$(./$(VOPR) list scenarios | cut -d' ' -f1 | grep -v '^swarm$$'); do \
	  ./$(VOPR) swarm --scenario $$s --seed 1 --seeds 200 --jobs 2 || exit 1; \
	done
	./$(VOPR) check-determinism --seeds 200

## gate: the pre-deploy staging gate (gate/staging.yaml: every scenario, a swarm batch,
## performance thresholds; writes bin/gate-junit.xml and bin/gate.json; about a minute)
gate: build
	./$(VOPR) gate --config gate/staging.yaml

## mutants: the mutation campaign (long; not part of test): every mutant of
## internal/mutants/catalog*.yaml alone against MUTANT_SEEDS swarm seeds (or its own scenarios);
## writes bin/mutants.md and bin/mutants.json. MUTANTS=id1,id2 runs a subset.
MUTANT_SEEDS ?= 300
MUTANT_JOBS ?= 2
mutants:
	MUTANTS="$(MUTANTS)" $(GO) run ./cmd/vopr-mutate run --seeds $(MUTANT_SEEDS) --jobs $(MUTANT_JOBS) --out bin/mutants

## fuzz: run every fuzz target for FUZZTIME each (default 1m)
FUZZTIME ?= 1m
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## lint: formatting and vet
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

clean:
	rm -rf bin
