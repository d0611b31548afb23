package test

import (
	"fmt"
	"os"
	"testing"

	"github.com/fedsaga/fedsaga/config"
)

// BenchmarkSagaTelemetry measures the order saga with telemetry off and on,
// in one run, on one worker process in regular mode:
//
//	go test ./test -run '^$' -bench 'SagaTelemetry' -benchtime 100x -count 3
//
// Off is the default configuration: no exporter, no interceptor, no SQL
// tracer. On, the worker traces every saga (sample_ratio 1), every SQL
// statement and the publish, and exports over OTLP/HTTP to a receiver in
// the benchmark process that counts and drops the spans. The starters'
// client is not traced, so each saga's trace starts at its workflow.
// `go tool benchstat -col /telemetry raw.txt` puts off and on side by side.
//
// With FEDSAGA_BENCH_BASELINE set to a fedsaga binary built from another
// commit (one without tracing, say), telemetry=baseline runs it too, in the
// same run, so that off is compared with the code before:
//
//	git worktree add /tmp/base main && (cd /tmp/base && go build -o /tmp/fedsaga-base ./cmd/fedsaga)
//	FEDSAGA_BENCH_BASELINE=/tmp/fedsaga-base go test ./test -run '^$' -bench 'SagaTelemetry' ...
func BenchmarkSagaTelemetry(b *testing.B) {
	s := stack
	workers := &benchWorkers{s: s}
	b.Cleanup(workers.stop)
	otlp := newOTLPReceiver(b, true)
	variants := []string{"off", "on"}
	baseline := os.Getenv("FEDSAGA_BENCH_BASELINE")
	if baseline != "" {
		variants = append([]string{"baseline"}, variants...)
	}
	ranOn := false
	for _, conc := range []int{1, saturation} {
		for _, telemetry := range variants {
			name := fmt.Sprintf("mode=%s/workers=1/kind=%s/conc=%d/telemetry=%s", config.ModeRegular, kindHappy, conc, telemetry)
			b.Run(name, func(b *testing.B) {
				set := workerSet{fedsaga: true, mode: config.ModeRegular, n: 1}
				switch telemetry {
				case "on":
					set.otlp, ranOn = otlp.URL, true
				case "baseline":
					set.bin = baseline
				}
				queue := workers.use(b, set)
				one := s.sagaRunner(b, s.Temporal, kindHappy, set, queue, conc)
				s.runSagas(b, conc, workers.pids(), one)
			})
		}
	}
	workers.stop() // the last spans are exported as the worker stops
	otlp.mu.Lock()
	defer otlp.mu.Unlock()
	if ranOn && otlp.received == 0 {
		b.Fatal("the workers with telemetry on exported no span")
	}
	b.Logf("%d spans exported", otlp.received)
}
