# fedsaga — see README.md.
.PHONY: run stop test bench build vet tools

run:   ## run fedsaga locally: stack, migrate, seed, worker, a few orders
	@scripts/run-local.sh

stop:  ## stop what `make run` started
	@scripts/stop-local.sh

test:  ## unit and integration tests (installs what is missing)
	@scripts/test.sh

bench: ## benchmarks (see BENCHMARKS.md); ARGS="--profile --update-docs" and BENCH, BENCHTIME, COUNT pass on
	@scripts/bench.sh $(ARGS)

build:
	go build -o bin/fedsaga ./cmd/fedsaga

vet:
	go vet ./...

tools: ## build and cache the Temporal CLI (dev server + Web UI)
	@bash -c 'source scripts/lib.sh && ensure_temporal && echo $$TEMPORAL_BIN'
