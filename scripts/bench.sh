#!/usr/bin/env bash
# fedsaga's benchmark command (`make bench`): the order saga against its
# floor, the order saga with telemetry off and on (SagaTelemetry), the outbox
# relay and the federated reads, on a stack the benchmarks start themselves
# (see test/stack_test.go). Writes bench-results/:
#   raw.txt       go test output (benchstat input: go tool benchstat raw.txt)
#   benchstat.txt benchstat's summary, with confidence intervals
#   results.json  every figure, the machine and the command, the targets
#   results.md    the same as markdown tables (also printed)
#
# Usage: scripts/bench.sh [--profile] [--update-docs] [--report-only]
#   --profile      also write profiles to bench-results/profiles/: a pprof CPU
#                  profile of the benchmark process (starters, relay, NATS,
#                  federation), one of every worker process (fedsaga and
#                  floor workers, reported per worker set in profiles/workers/)
#                  and, where perf works, a system-wide perf
#                  profile of every process (Temporal server, workers,
#                  PostgreSQL) with per-process and per-function reports
#   --update-docs  copy the results into BENCHMARKS.md
#   --report-only  do not run: make the report again from raw.txt
# Environment: BENCH (benchmarks, a go test -bench pattern; default .),
# BENCHTIME (default 5s), COUNT (runs of each benchmark; default 6: the
# suite runs COUNT times, each time as one go test process on a fresh stack
# with -count 1, so that every run of a benchmark finds the Temporal server
# and the databases as young as the others; with --profile, one process
# with -count COUNT, so that one profile covers the runs), SERVER
# (dev: the in-memory dev server, the default; postgres: the Temporal server
# on PostgreSQL persistence, as docker-compose runs it, built once from the
# Go module proxy; results in bench-results/postgres/), WORKERS (the worker
# process counts of BenchmarkSaga, such as 1 or 1,2; default 1,2,3).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

usage() { sed -n '/^# Usage/,/^# BENCHTIME/p' "$0" | sed 's/^# \{0,1\}//'; }

profile=false update_docs=false report_only=false
while (($#)); do
  case "$1" in
    --profile) profile=true ;;
    --update-docs) update_docs=true ;;
    --report-only) report_only=true ;;
    -h | --help) usage; exit 0 ;;
    *) log "unknown argument: $1"; usage >&2; exit 2 ;;
  esac
  shift
done

SERVER="${SERVER:-dev}"
case "$SERVER" in
  dev) OUT="$ROOT/bench-results" server_label="(temporal CLI $TEMPORAL_CLI_VERSION dev server, in memory)" ;;
  postgres) OUT="$ROOT/bench-results/postgres" server_label="(Temporal server $TEMPORAL_SERVER_VERSION on PostgreSQL, schema by temporal-sql-tool)" ;;
  *) log "SERVER=$SERVER: want dev or postgres"; exit 2 ;;
esac
PROFILES="$OUT/profiles"
BENCH="${BENCH:-.}"
BENCHTIME="${BENCHTIME:-5s}"
COUNT="${COUNT:-6}"
if [[ -n "${WORKERS:-}" ]]; then export FEDSAGA_BENCH_WORKERS="$WORKERS"; fi
mkdir -p "$OUT"

# The dev server keeps every saga it ran, and the suite's figures drift as
# its store grows (the third run of a benchmark slower than the first, in
# one process): COUNT processes of one run each compare like with like.
runs="$COUNT" count=1
if $profile; then runs=1 count="$COUNT"; fi
cmd=(go test ./test -run '^$' -bench "$BENCH" -benchtime "$BENCHTIME" -count "$count" -timeout 4h -v)
if $profile; then
  mkdir -p "$PROFILES/bin"
  # Keep the binaries, so that pprof and perf can name their functions.
  export FEDSAGA_BENCH_BINDIR="$PROFILES/bin"
  # Every worker process writes a pprof CPU profile of its run.
  rm -rf "$PROFILES/workers"
  mkdir -p "$PROFILES/workers"
  export FEDSAGA_BENCH_PROFILEDIR="$PROFILES/workers"
  cmd+=(-cpuprofile "$PROFILES/bench.cpu.pprof" -o "$PROFILES/bin/test.test")
fi

# quote prints a command as one would type it.
quote() {
  local arg out=()
  for arg; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./=:,+-]+$ ]]; then out+=("$arg"); else out+=("'${arg//\'/\'\\\'\'}'"); fi
  done
  printf '%s\n' "${out[*]}"
}
command_line="$(quote "${cmd[@]}")"
if [[ -n "${WORKERS:-}" ]]; then command_line="FEDSAGA_BENCH_WORKERS=$WORKERS $command_line"; fi
if ((runs > 1)); then command_line="for run in \$(seq $runs); do $command_line; done  # each run on a fresh stack"; fi

if ! $report_only; then
  ensure_temporal
  ensure_postgres
  export FEDSAGA_TEMPORAL_BIN="$TEMPORAL_BIN"
  if [[ "$SERVER" == postgres ]]; then
    ensure_temporal_server
    export FEDSAGA_TEST_SERVER=postgres FEDSAGA_TEMPORAL_SERVER_BIN="$TEMPORAL_SERVER_BIN" FEDSAGA_TEMPORAL_SQL_TOOL_BIN="$TEMPORAL_SQL_TOOL_BIN"
  fi
  perf_cmd=()
  if $profile; then
    if command -v perf >/dev/null && perf record -q -a -o /dev/null -- true 2>/dev/null; then
      perf_cmd=(perf record -q -F 99 -g -a -o "$PROFILES/perf.data" --)
    else
      log "perf is missing or may not record system-wide (apt-get install linux-perf; run as root): only the pprof profiles (benchmark process and workers)"
    fi
  fi
  # What and where, for the report: the server is the one the benchmarks start.
  if [[ "$SERVER" == postgres ]]; then
    echo "Server $("$TEMPORAL_SERVER_BIN" --version | awk '{print $NF}')" >"$OUT/temporal-version.txt"
  else
    "$TEMPORAL_BIN" --version | sed -n 's/.*(\(.*\)).*/\1/p' >"$OUT/temporal-version.txt"
  fi
  printf '%s\n' "$command_line" >"$OUT/command.txt"
  commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then commit+="-dirty"; fi
  printf '%s\n' "$commit" >"$OUT/commit.txt"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$OUT/date.txt"

  log "running the benchmarks (about 110 minutes with the defaults, COUNT=6); each prints its name when it starts and its figures when it ends"
  log "$command_line"
  : >"$OUT/raw.txt"
  for ((run = 1; run <= runs; run++)); do
    ((runs == 1)) || log "run $run of $runs"
    "${perf_cmd[@]}" "${cmd[@]}" 2>&1 | tee -a "$OUT/raw.txt"
  done

  if $profile; then
    log "profiles in $PROFILES"
    go tool pprof -top -nodecount 60 "$PROFILES/bin/test.test" "$PROFILES/bench.cpu.pprof" >"$PROFILES/bench.cpu.top.txt" 2>/dev/null || true
    # One report per worker set, every run of it merged:
    # workers/fedsaga-local-1w.top.txt against workers/floor-local-1w.top.txt.
    for set in $(ls "$PROFILES/workers" | sed -n 's/^\([a-z]*-[a-z]*-[0-9]*w\)\..*\.cpu\.pprof$/\1/p' | sort -u); do
      bin="$PROFILES/bin/fedsaga"
      [[ "$set" == floor-* ]] && bin="$PROFILES/bin/floorworker"
      go tool pprof -top -nodecount 60 "$bin" "$PROFILES/workers/$set".*.cpu.pprof >"$PROFILES/workers/$set.top.txt" 2>/dev/null || true
      go tool pprof -top -cum -nodecount 60 "$bin" "$PROFILES/workers/$set".*.cpu.pprof >"$PROFILES/workers/$set.cum.txt" 2>/dev/null || true
    done
    if [[ -f "$PROFILES/perf.data" ]]; then
      # The benchmarks' processes only (not the go build before them); a
      # process's command name is its binary's, cut to 15 characters.
      server_bin="$TEMPORAL_BIN"
      [[ "$SERVER" == postgres ]] && server_bin="$TEMPORAL_SERVER_BIN"
      comms="$(basename "$server_bin" | cut -c1-15),fedsaga,floorworker,postgres,test.test"
      report=(perf report -i "$PROFILES/perf.data" --stdio --no-children --comms "$comms" --percentage relative)
      "${report[@]}" --sort comm -g none >"$PROFILES/perf-by-process.txt" 2>/dev/null || true
      "${report[@]}" --sort comm,dso,sym -g none --percent-limit 0.3 >"$PROFILES/perf-by-function.txt" 2>/dev/null || true
    fi
  fi
fi

[[ -s "$OUT/raw.txt" ]] || { log "no $OUT/raw.txt: run without --report-only first"; exit 1; }
meta() { cat "$OUT/$1.txt" 2>/dev/null || echo "?"; }
go tool benchstat "$OUT/raw.txt" >"$OUT/benchstat.txt"
go run ./scripts/benchreport -in "$OUT/raw.txt" -json "$OUT/results.json" -md "$OUT/results.md" \
  -command "$(meta command)" -temporal "$(meta temporal-version) $server_label" \
  -commit "$(meta commit)" -date "$(meta date)"

if $update_docs; then
  # BENCHMARKS.md keeps the latest results between these markers.
  begin='<!-- results:begin -->' end='<!-- results:end -->'
  if [[ "$SERVER" == postgres ]]; then begin='<!-- results-postgres:begin -->' end='<!-- results-postgres:end -->'; fi
  if ! grep -qx -- "$begin" BENCHMARKS.md || ! grep -qx -- "$end" BENCHMARKS.md; then
    log "BENCHMARKS.md has no $begin ... $end markers: not updated"; exit 1
  fi
  tmp="$(mktemp)"
  awk -v begin="$begin" -v end="$end" -v results="$OUT/results.md" '
    $0 == begin { print; while ((getline line < results) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }' BENCHMARKS.md >"$tmp"
  mv "$tmp" BENCHMARKS.md
  log "BENCHMARKS.md updated from $OUT/results.md"
fi
log "results: $OUT/results.md, $OUT/results.json; benchstat: $OUT/benchstat.txt"
