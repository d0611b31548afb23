package worker

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
)

// TestTracingInterceptorOnlyWhenOn: telemetry off (the default) adds no
// interceptor to the client, so neither the client nor its workers trace;
// on, the tracing interceptor is there for both.
func TestTracingInterceptorOnlyWhenOn(t *testing.T) {
	cfg := config.Default()
	opts, err := ClientOptions(cfg, zerolog.Nop())
	if err != nil || len(opts.Interceptors) != 0 {
		t.Errorf("telemetry off: %d interceptors, %v; want none", len(opts.Interceptors), err)
	}
	cfg.Telemetry.Enabled = true
	opts, err = ClientOptions(cfg, zerolog.Nop())
	if err != nil || len(opts.Interceptors) != 1 {
		t.Errorf("telemetry on: %d interceptors, %v; want the tracing interceptor", len(opts.Interceptors), err)
	}
}
