# vopr: deterministic simulation testing for a VSR replicated database.
# Every target builds what it needs; Go modules come from the module proxy.

GO ?= go
VOPR := bin/vopr

.PHONY: vopr build test bench soak gate mutants lint fuzz clean

## vopr: build and run the main job (every scenario on a few seeds; summary table)
vopr: build
	./$(VOPR)

build:
	$(GO) build -buildvcs=auto -o $(VOPR) ./cmd/vopr

## test: the whole test suite (must stay under ~10 minutes on 2 cores)
test:
	$(GO) vet ./...
	$(GO) vet -tags vopr_mutants ./...
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -tags vopr_mutants -run Mutants ./scenarios/ ./cmd/vopr/

## bench: benchmarks (events/s, simulated time per wall second, allocations)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=3 ./sim/ ./cluster/... ./scenarios/...

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
