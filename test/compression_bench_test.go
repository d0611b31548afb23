package test

import (
	"context"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/config"
)

// BenchmarkSagaCompression measures temporal.grpc_compression: the order
// saga with gzip (the SDK's default) and with none, in turn saga by saga
// (inTurn) at conc 1, one worker process each, the starter's client
// compressing as its workers do. fedsaga's payloads are encrypted, so
// gzip has little to gain on them. For each it reports the p50 latency
// (gzip-p50-ms, none-p50-ms; p50-ratio is none's ÷ gzip's) and the CPU per
// saga of the Temporal server and of the worker process, from the saga's
// start until pairSettle after its end (NAME-server-cpu-ms,
// NAME-worker-cpu-ms; /proc counts in 10 ms ticks, so these are means over
// many sagas).
func BenchmarkSagaCompression(b *testing.B) {
	s := stack
	none := s.uncompressedClient(b)
	gzipWorkers, noneWorkers := &benchWorkers{s: s}, &benchWorkers{s: s}
	b.Cleanup(gzipWorkers.stop)
	b.Cleanup(noneWorkers.stop)
	for _, mode := range []string{config.ModeRegular, config.ModeLocal} {
		b.Run("mode="+mode, func(b *testing.B) {
			gzipSet := workerSet{fedsaga: true, mode: mode, n: 1, publishTimeout: 2 * time.Minute}
			noneSet := gzipSet
			noneSet.compression = config.CompressionNone
			gz := &contender{name: config.CompressionGzip, run: s.sagaRun(b, s.Temporal, kindHappy, gzipSet, gzipWorkers.use(b, gzipSet), 1).once}
			no := &contender{name: config.CompressionNone, run: s.sagaRun(b, none, kindHappy, noneSet, noneWorkers.use(b, noneSet), 1).once}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			server := s.serverPIDs()
			inTurn(ctx, b, []*contender{gz, no}, server, gzipWorkers.pids(), noneWorkers.pids())
			for i, c := range []*contender{gz, no} {
				b.ReportMetric(durationMS(medianDuration(c.took)), c.name+"-p50-ms")
				if len(server) > 0 {
					b.ReportMetric(durationMS(c.cpu[0])/float64(b.N), c.name+"-server-cpu-ms")
				}
				b.ReportMetric(durationMS(c.cpu[1+i])/float64(b.N), c.name+"-worker-cpu-ms")
			}
			b.ReportMetric(float64(medianDuration(no.took))/float64(medianDuration(gz.took)), "p50-ratio")
		})
	}
}
