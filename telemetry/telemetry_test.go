package telemetry

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/fedsaga/fedsaga/config"
)

// countExporters makes newExporter count the exporters it makes.
func countExporters(t *testing.T) *int {
	n := new(int)
	orig := newExporter
	newExporter = func(ctx context.Context, cfg config.Telemetry) (sdktrace.SpanExporter, error) {
		*n++
		return orig(ctx, cfg)
	}
	t.Cleanup(func() { newExporter = orig })
	return n
}

func TestOffCreatesNothing(t *testing.T) {
	made := countExporters(t)
	before := otel.GetTracerProvider()
	for _, tc := range []struct {
		name string
		cfg  config.Telemetry
		env  map[string]string
	}{
		{"default", config.DefaultTelemetry(), nil},
		{"OTEL variables alone do not turn it on", config.DefaultTelemetry(), map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SERVICE_NAME": "x"}},
		{"OTEL_SDK_DISABLED", func() config.Telemetry { c := config.DefaultTelemetry(); c.Enabled = true; return c }(),
			map[string]string{"OTEL_SDK_DISABLED": "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			tr, err := Start(context.Background(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Enabled() || tr.Exporter() != nil || *made != 0 {
				t.Errorf("enabled %v, exporter %v, exporters made %d: want none", tr.Enabled(), tr.Exporter(), *made)
			}
			if otel.GetTracerProvider() != before {
				t.Error("the global TracerProvider changed")
			}
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestOnMakesOneExporter(t *testing.T) {
	for _, protocol := range []string{config.ProtocolGRPC, config.ProtocolHTTP} {
		t.Run(protocol, func(t *testing.T) {
			made := countExporters(t)
			cfg := config.DefaultTelemetry()
			cfg.Enabled, cfg.Protocol, cfg.Endpoint = true, protocol, "http://127.0.0.1:1"
			tr, err := Start(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !tr.Enabled() || tr.Exporter() == nil || *made != 1 {
				t.Errorf("enabled %v, exporter %T, exporters made %d: want one", tr.Enabled(), tr.Exporter(), *made)
			}
			if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); !ok {
				t.Errorf("global TracerProvider %T, want the SDK's", otel.GetTracerProvider())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 0)
			defer cancel()
			_ = tr.Shutdown(ctx) // nothing listens at the endpoint
		})
	}
}

func TestBadVariablesNameTheirKey(t *testing.T) {
	on := config.DefaultTelemetry()
	on.Enabled = true
	for _, tc := range []struct{ env, value, key string }{
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{"OTEL_TRACES_SAMPLER", "sometimes", "OTEL_TRACES_SAMPLER"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			_, err := Start(context.Background(), on)
			var te *Error
			if !errors.As(err, &te) || te.Key != tc.key {
				t.Fatalf("error %v: want a *telemetry.Error naming %s", err, tc.key)
			}
		})
	}
	t.Run("OTEL_TRACES_SAMPLER_ARG", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
		t.Setenv("OTEL_TRACES_SAMPLER_ARG", "2")
		_, err := Start(context.Background(), on)
		var te *Error
		if !errors.As(err, &te) || te.Key != "OTEL_TRACES_SAMPLER_ARG" {
			t.Fatalf("error %v: want a *telemetry.Error naming OTEL_TRACES_SAMPLER_ARG", err)
		}
	})
}
