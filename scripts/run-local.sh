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

ensure_dev_keys
start_dev_server

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

log "starting a worker (log: .run/worker.log)"
restart_bg worker "${FEDSAGA[@]}" worker
log "starting the codec server for the Web UI (log: .run/codec-server.log)"
restart_bg codec-server "${FEDSAGA[@]}" codec-server
wait_for "codec server" "${CODEC_ADDRESS%:*}" "${CODEC_ADDRESS##*:}" 30

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
echo "(payloads are encrypted in Temporal; the Web UI decrypts them through the codec server http://$CODEC_ADDRESS)"
echo "The worker and the codec server keep running (pids $(cat "$RUN_DIR/worker.pid"), $(cat "$RUN_DIR/codec-server.pid")); stop everything with: make stop"
