#!/usr/bin/env bash
# fedsaga's test command: unit tests, and integration tests against a real
# Temporal dev server (started by the tests), real PostgreSQL (the machine's,
# in databases the tests create and drop) and real NATS (in-process, owned by
# the tests). Installs what is missing first.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_temporal
ensure_workflowcheck
ensure_gosec
ensure_helm
ensure_promtool
ensure_postgres
ensure_nats
if ! command -v docker-compose >/dev/null; then
  log "installing docker-compose (Debian) to check docker-compose.yml"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi
export FEDSAGA_TEMPORAL_BIN="$TEMPORAL_BIN"
export FEDSAGA_HELM_BIN="$HELM_BIN"
log "helm lint and helm template (deploy/helm/fedsaga, each values file)"
CHART=deploy/helm/fedsaga
for values in "" "$CHART"/values-*.yaml; do
  out="$("$HELM_BIN" lint --strict "$CHART" ${values:+-f "$values"})" || { printf '%s\n' "$out"; exit 1; }
  "$HELM_BIN" template fedsaga "$CHART" ${values:+-f "$values"} >/dev/null
done
log "promtool check rules and test rules (deploy/monitoring; go test checks the dashboard: valid JSON, queries of exported metrics)"
"$PROMTOOL_BIN" check rules deploy/monitoring/fedsaga-alerts.yaml
(cd deploy/monitoring && "$PROMTOOL_BIN" test rules fedsaga-alerts-test.yaml)
log "go vet"
go vet ./...
log "gqlgen: the GraphQL code is current with federation/api/schema.graphql"
scripts/gqlgen-check.sh
log "workflowcheck (non-determinism in workflow code)"
"$WORKFLOWCHECK_BIN" -test=false ./...
log "gosec G115: no integer conversion that can overflow or truncate (check the bounds first)"
"$GOSEC_BIN" -quiet -include=G115 ./...
log "go test"
go test -count=1 -timeout 30m "$@" ./...
# Fast mode: the integration tests again with every saga's activities local
# (saga.mode = "local" for the stack's worker and every worker process the
# tests start): replay, barrier, events, operator and scale-out included.
log "go test ./test in fast mode (FEDSAGA_SAGA__MODE=local)"
FEDSAGA_SAGA__MODE=local go test -count=1 -timeout 30m "$@" ./test
