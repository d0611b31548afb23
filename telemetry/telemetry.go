// Package telemetry sets up OpenTelemetry tracing for a fedsaga process
// from [telemetry]: an OTLP exporter (grpc or http/protobuf), a sampler and
// the service's resource, installed as the global TracerProvider and W3C
// propagator. Turned off (the default), Start creates nothing and touches
// no global: fedsaga then adds no interceptor, no SQL tracer and no span.
//
// Precedence: a standard OTEL_* variable, when set, wins over the
// [telemetry] key that says the same thing, as it is set where the process
// runs (as FEDSAGA_* variables win over the file):
//
//	telemetry.endpoint      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT
//	telemetry.protocol      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL
//	telemetry.sample_ratio  OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG
//	telemetry.service_name  OTEL_SERVICE_NAME (OTEL_RESOURCE_ATTRIBUTES adds attributes)
//	telemetry.enabled       OTEL_SDK_DISABLED=true turns tracing off
//
// The exporters read their other variables themselves (headers,
// certificates, timeouts, compression: OTEL_EXPORTER_OTLP_*).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/internal/buildinfo"
)

// Tracing is a process's tracing; the zero value (tracing off) does nothing.
type Tracing struct {
	provider *sdktrace.TracerProvider
	exporter sdktrace.SpanExporter
}

// Option changes how Start sets up tracing.
type Option func(*options)

type options struct {
	exporter sdktrace.SpanExporter
}

// WithExporter exports to e, synchronously as each span ends, instead of
// OTLP: for tests, with an in-memory exporter (tracetest).
func WithExporter(e sdktrace.SpanExporter) Option {
	return func(o *options) { o.exporter = e }
}

// Error is a tracing setting that cannot be used; Key is the configuration
// key or the OTEL_* variable that holds it.
type Error struct {
	Key string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("telemetry: %s: %v", e.Key, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Start sets up tracing as cfg says (see the package's precedence) and
// installs it as the global TracerProvider and propagator. With
// telemetry.enabled false, or OTEL_SDK_DISABLED=true, it creates nothing
// and returns a Tracing that does nothing. Shut it down before the process
// ends, so the last spans are exported.
func Start(ctx context.Context, cfg config.Telemetry, opts ...Option) (*Tracing, error) {
	if !cfg.Enabled || strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return &Tracing{}, nil
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	sampler, err := sampler(cfg)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(buildinfo.Version())),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		return nil, &Error{Key: "OTEL_RESOURCE_ATTRIBUTES", Err: err}
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if sampler != nil {
		tpOpts = append(tpOpts, sdktrace.WithSampler(sampler))
	}
	exp := o.exporter
	if exp != nil {
		tpOpts = append(tpOpts, sdktrace.WithSyncer(exp))
	} else {
		if exp, err = newExporter(ctx, cfg); err != nil {
			return nil, err
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Tracing{provider: tp, exporter: exp}, nil
}

// Enabled reports whether Start set up tracing.
func (t *Tracing) Enabled() bool { return t != nil && t.provider != nil }

// Exporter is the span exporter Start created; nil when tracing is off.
func (t *Tracing) Exporter() sdktrace.SpanExporter {
	if t == nil {
		return nil
	}
	return t.exporter
}

// Shutdown exports the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// env returns the first of the variables that is set (not empty), and its name.
func env(names ...string) (value, name string) {
	for _, n := range names {
		if v := strings.TrimSpace(os.Getenv(n)); v != "" {
			return v, n
		}
	}
	return "", ""
}

// newExporter makes the OTLP exporter; a variable here so that a test can
// count the exporters made.
var newExporter = func(ctx context.Context, cfg config.Telemetry) (sdktrace.SpanExporter, error) {
	protocol, key := env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	if protocol == "" {
		protocol, key = cfg.Protocol, "telemetry.protocol"
	}
	// An endpoint variable wins: the exporter reads it when given no endpoint.
	endpoint := cfg.Endpoint
	if v, _ := env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"); v != "" {
		endpoint = ""
	}
	var exp sdktrace.SpanExporter
	var err error
	switch protocol {
	case config.ProtocolGRPC:
		var opts []otlptracegrpc.Option
		if endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	case config.ProtocolHTTP:
		var opts []otlptracehttp.Option
		if endpoint != "" {
			// The URL is the collector's, as OTEL_EXPORTER_OTLP_ENDPOINT's
			// is: the traces' path goes after it, unless it has a path.
			if u, err := url.Parse(endpoint); err == nil && strings.Trim(u.Path, "/") == "" {
				u.Path = "/v1/traces"
				endpoint = u.String()
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	default:
		return nil, &Error{Key: key, Err: fmt.Errorf("%q is not one of %s, %s", protocol, config.ProtocolGRPC, config.ProtocolHTTP)}
	}
	if err != nil {
		return nil, &Error{Key: "telemetry.endpoint", Err: err}
	}
	return exp, nil
}

// samplers are the values of OTEL_TRACES_SAMPLER the SDK knows.
var samplers = []string{"always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}

// sampler is telemetry.sample_ratio's sampler, or nil when
// OTEL_TRACES_SAMPLER is set: the SDK then reads it (and its argument),
// which are checked here so that a bad one fails by name.
func sampler(cfg config.Telemetry) (sdktrace.Sampler, error) {
	name, _ := env("OTEL_TRACES_SAMPLER")
	if name == "" {
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio)), nil
	}
	ok := false
	for _, s := range samplers {
		ok = ok || s == name
	}
	if !ok {
		return nil, &Error{Key: "OTEL_TRACES_SAMPLER", Err: fmt.Errorf("%q is not one of %s", name, strings.Join(samplers, ", "))}
	}
	if arg, _ := env("OTEL_TRACES_SAMPLER_ARG"); arg != "" && strings.HasSuffix(name, "traceidratio") {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, &Error{Key: "OTEL_TRACES_SAMPLER_ARG", Err: errors.New("want a ratio from 0 to 1, got " + strconv.Quote(arg))}
		}
	}
	return nil, nil
}
