# Shared by fedsaga's scripts: where things are cached, and how to get the
# Temporal dev server.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${FEDSAGA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fedsaga}"
TEMPORAL_CLI_VERSION="v1.5.1"   # Temporal server 1.29.1 with the Web UI
TEMPORAL_BIN="$CACHE/bin/temporal-$TEMPORAL_CLI_VERSION"
RUN_DIR="$ROOT/.run"

# The dev server's dynamic configuration, deploy/temporal/devserver.conf
# (key=value lines; docker-compose's server has the same values in
# deploy/temporal/dynamicconfig.yaml, which explains each).
TEMPORAL_DYNAMIC_CONFIG=()
while IFS= read -r setting; do
  case "$setting" in ''|'#'*) continue ;; esac
  TEMPORAL_DYNAMIC_CONFIG+=(--dynamic-config-value "$setting")
done <"$ROOT/deploy/temporal/devserver.conf"

log() { printf '==> %s\n' "$*" >&2; }

# go_install_cached BIN PACKAGE@VERSION builds a Go command from the module
# proxy once and caches it at BIN.
go_install_cached() {
  local bin="$1" pkg="$2"
  if [[ -x "$bin" ]]; then return; fi
  log "building $pkg from the Go module proxy (cached in $CACHE/bin)"
  mkdir -p "$CACHE/bin"
  local tmp; tmp="$(mktemp -d)"
  GOBIN="$tmp" GOFLAGS=-mod=mod go install "$pkg"
  mv "$tmp/$(basename "${pkg%@*}")" "$bin"
  rmdir "$tmp"
}

# ensure_temporal builds the Temporal CLI once (about 3 minutes).
ensure_temporal() {
  go_install_cached "$TEMPORAL_BIN" "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
}

# The Temporal server on SQL persistence, for `make bench SERVER=postgres`:
# the server binary and Temporal's schema tool, from the Go module proxy
# (several minutes each, cold), at the version of the dev server above.
TEMPORAL_SERVER_VERSION="v1.29.1"
TEMPORAL_SERVER_BIN="$CACHE/bin/temporal-server-$TEMPORAL_SERVER_VERSION"
TEMPORAL_SQL_TOOL_BIN="$CACHE/bin/temporal-sql-tool-$TEMPORAL_SERVER_VERSION"

# ensure_temporal_server builds the Temporal server and temporal-sql-tool once.
ensure_temporal_server() {
  go_install_cached "$TEMPORAL_SQL_TOOL_BIN" "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION"
  go_install_cached "$TEMPORAL_SERVER_BIN" "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION"
}

WORKFLOWCHECK_VERSION="v0.6.0"
WORKFLOWCHECK_BIN="$CACHE/bin/workflowcheck-$WORKFLOWCHECK_VERSION"

# ensure_workflowcheck installs Temporal's static non-determinism checker.
ensure_workflowcheck() {
  go_install_cached "$WORKFLOWCHECK_BIN" "go.temporal.io/sdk/contrib/tools/workflowcheck@$WORKFLOWCHECK_VERSION"
}

GOSEC_VERSION="v2.30.0"
GOSEC_BIN="$CACHE/bin/gosec-$GOSEC_VERSION"

# ensure_gosec builds gosec once; scripts/test.sh runs its G115 check
# (integer conversions that can overflow or truncate).
ensure_gosec() {
  go_install_cached "$GOSEC_BIN" "github.com/securego/gosec/v2/cmd/gosec@$GOSEC_VERSION"
}

HELM_VERSION="v3.22.0"
HELM_BIN="$CACHE/bin/helm-$HELM_VERSION"

# ensure_helm builds Helm once (about 3 minutes) for the chart checks.
ensure_helm() {
  go_install_cached "$HELM_BIN" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

PROMTOOL_VERSION="v0.316.0"   # Prometheus 3.x tags its Go module v0.3xx
PROMTOOL_BIN="$CACHE/bin/promtool-$PROMTOOL_VERSION"

# ensure_promtool builds promtool once (about 7 minutes) to check and unit
# test the alert rules of deploy/monitoring.
ensure_promtool() {
  go_install_cached "$PROMTOOL_BIN" "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION"
}

# listening HOST PORT: is something accepting connections there?
listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() { # wait_for NAME HOST PORT SECONDS
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    if listening "$2" "$3"; then return 0; fi
    sleep 0.1
  done
  log "$1 did not start on $2:$3 within $4 s"; return 1
}

# ensure_postgres starts the machine's PostgreSQL when it is not running.
ensure_postgres() {
  if listening 127.0.0.1 5432; then return; fi
  log "PostgreSQL is not running: starting it"
  if ! command -v pg_ctlcluster >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  wait_for PostgreSQL 127.0.0.1 5432 30
}

# ensure_nats starts a NATS server with JetStream when none runs.
ensure_nats() {
  if listening 127.0.0.1 4222; then return; fi
  log "NATS is not running: starting one with JetStream"
  if ! command -v nats-server >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  fi
  mkdir -p "$RUN_DIR/nats"
  nohup nats-server -a 127.0.0.1 -p 4222 -js -sd "$RUN_DIR/nats" >"$RUN_DIR/nats.log" 2>&1 &
  wait_for NATS 127.0.0.1 4222 30
}

CODEC_ADDRESS="127.0.0.1:8234"   # codec.http_address of fedsaga.toml

# ensure_dev_keys creates the development keys fedsaga.toml names
# ([codec.keys.dev], codec.customer_id_key) once: 32 random bytes, base64.
ensure_dev_keys() {
  mkdir -p "$RUN_DIR"
  local f
  for f in codec-dev.key customer-id-dev.key; do
    if [[ ! -s "$RUN_DIR/$f" ]]; then
      log "creating the development key .run/$f"
      (umask 077; head -c 32 /dev/urandom | base64 >"$RUN_DIR/$f")
    fi
  done
}

# start_dev_server starts the Temporal dev server (gRPC 127.0.0.1:7233, Web
# UI http://localhost:8233) with its Web UI pointed at fedsaga's codec
# server, so the UI shows decrypted payloads while the history holds
# ciphertext.
start_dev_server() {
  if listening 127.0.0.1 7233; then
    log "Temporal already listens on 127.0.0.1:7233"
    return
  fi
  log "starting the Temporal dev server (gRPC 127.0.0.1:7233, Web UI http://localhost:8233, codec server http://$CODEC_ADDRESS)"
  nohup "$TEMPORAL_BIN" server start-dev --ip 127.0.0.1 --port 7233 --ui-port 8233 \
    --ui-codec-endpoint "http://$CODEC_ADDRESS" \
    --log-level warn "${TEMPORAL_DYNAMIC_CONFIG[@]}" >"$RUN_DIR/temporal.log" 2>&1 &
  echo $! >"$RUN_DIR/temporal.pid"
  wait_for Temporal 127.0.0.1 7233 60
}

# restart_bg NAME ARGS...: (re)starts a fedsaga process in the background,
# logging to .run/NAME.log, its pid in .run/NAME.pid.
restart_bg() {
  local name="$1"; shift
  if [[ -f "$RUN_DIR/$name.pid" ]] && kill -0 "$(cat "$RUN_DIR/$name.pid")" 2>/dev/null; then
    kill "$(cat "$RUN_DIR/$name.pid")"; sleep 1
  fi
  FEDSAGA_LOG__FORMAT=json nohup "$@" >"$RUN_DIR/$name.log" 2>&1 &
  echo $! >"$RUN_DIR/$name.pid"
}
