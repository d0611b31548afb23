#!/usr/bin/env bash
# One command runs fedsaga locally: Temporal dev server (with the Web UI),
# NATS, PostgreSQL with the three databases, migrations, demo data, a worker,
# and a few orders whose outcomes it prints.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mkdir -p "$RUN_DIR"

ensure_temporal
ensure_postgres
ensure_nats

if listening 127.0.0.1 7233; then
  log "Temporal already listens on 127.0.0.1:7233"
else
  log "starting the Temporal dev server (gRPC 127.0.0.1:7233, Web UI http://localhost:8233)"
  nohup "$TEMPORAL_BIN" server start-dev --ip 127.0.0.1 --port 7233 --ui-port 8233 \
    --log-level warn "${TEMPORAL_DYNAMIC_CONFIG[@]}" >"$RUN_DIR/temporal.log" 2>&1 &
  echo $! >"$RUN_DIR/temporal.pid"
  wait_for Temporal 127.0.0.1 7233 60
fi

for db in fedsaga_orders fedsaga_inventory fedsaga_payments; do
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    log "creating database $db"
    psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null
  fi
done

log "building fedsaga"
go build -o bin/fedsaga ./cmd/fedsaga
FEDSAGA=(bin/fedsaga --config fedsaga.toml)

log "migrating"; "${FEDSAGA[@]}" migrate
log "seeding demo data"; "${FEDSAGA[@]}" seed --reset

if [[ -f "$RUN_DIR/worker.pid" ]] && kill -0 "$(cat "$RUN_DIR/worker.pid")" 2>/dev/null; then
  kill "$(cat "$RUN_DIR/worker.pid")"; sleep 1
fi
log "starting a worker (log: .run/worker.log)"
FEDSAGA_LOG__FORMAT=json nohup "${FEDSAGA[@]}" worker >"$RUN_DIR/worker.log" 2>&1 &
echo $! >"$RUN_DIR/worker.pid"

run_id="$(date +%s)"
place() { # place NAME ARGS...
  local name="$1"; shift
  log "placing order $name-$run_id: $*"
  "${FEDSAGA[@]}" order place --order-id "$name-$run_id" --wait "$@"
}
echo
echo "Outcomes:"
place confirmed --customer alice --item WIDGET=2 --item GADGET=1
place nostock   --customer alice --item GIZMO-LTD=50
place nofunds   --customer bob   --item GADGET=2
echo
"${FEDSAGA[@]}" health || true
echo
echo "Inspect the sagas in the Temporal Web UI: http://localhost:8233/namespaces/default/workflows"
echo "The worker keeps running (pid $(cat "$RUN_DIR/worker.pid")); stop everything with: make stop"
