# fedsaga — see README.md.
.PHONY: run stop test bench build image image-check vet tools

DOCKER ?= docker

run:   ## run fedsaga locally: stack, migrate, seed, worker, a few orders
	@scripts/run-local.sh

stop:  ## stop what `make run` started
	@scripts/stop-local.sh

test:  ## unit and integration tests (installs what is missing)
	@scripts/test.sh

bench: ## benchmarks (see BENCHMARKS.md); ARGS="--profile --update-docs" and BENCH, BENCHTIME, COUNT, WORKERS, SERVER pass on
	@scripts/bench.sh $(ARGS)

# Release identity, stamped into the binary (fedsaga version) and the image.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null)
BUILDINFO := github.com/fedsaga/fedsaga/internal/buildinfo
LDFLAGS := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE)

build: ## bin/fedsaga, a static binary stamped with VERSION, COMMIT and DATE
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/fedsaga ./cmd/fedsaga

image: ## container image fedsaga:$(VERSION) (docker, or podman with DOCKER=podman)
	$(DOCKER) build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg DATE=$(DATE) -t fedsaga:$(VERSION) .

image-check: ## build a FROM scratch image of the static binary with podman and run it read-only as 65532
	@VERSION=$(VERSION) COMMIT=$(COMMIT) DATE=$(DATE) scripts/image-check.sh

vet:
	go vet ./...

tools: ## build and cache the Temporal CLI (dev server + Web UI), Helm and promtool
	@bash -c 'source scripts/lib.sh && ensure_temporal && ensure_helm && ensure_promtool && echo $$TEMPORAL_BIN $$HELM_BIN $$PROMTOOL_BIN'
