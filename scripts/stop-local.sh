#!/usr/bin/env bash
# Stops what run-local.sh started (the worker, the codec server, and the Temporal dev server
# and NATS when it started them). The machine's PostgreSQL keeps running.
source "$(dirname "$0")/lib.sh"
for p in worker codec-server temporal; do
  if [[ -f "$RUN_DIR/$p.pid" ]]; then
    kill "$(cat "$RUN_DIR/$p.pid")" 2>/dev/null && log "stopped $p" || true
    rm -f "$RUN_DIR/$p.pid"
  fi
done
