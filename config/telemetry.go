package config

import (
	"net/url"
)

// Telemetry configures OpenTelemetry tracing ([telemetry]). Off by default:
// no exporter, no tracer provider, no span is made. The standard OTEL_*
// variables work too; where one of them and a key below say the same
// thing, the variable wins (it is set where the process runs, as
// FEDSAGA_* variables are): see package telemetry.
type Telemetry struct {
	// Enabled traces sagas, SQL statements and event publishes and exports
	// the spans over OTLP. OTEL_SDK_DISABLED=true turns it off. Default false.
	Enabled bool `koanf:"enabled"`
	// Endpoint is the OTLP collector's URL, such as "http://127.0.0.1:4317"
	// (grpc) or "http://127.0.0.1:4318" (http/protobuf; the path
	// /v1/traces is added when the URL has none); http:// sends in
	// plaintext, https:// with TLS. OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and
	// OTEL_EXPORTER_OTLP_ENDPOINT override it. Default "": the exporter's
	// default, localhost:4317 or localhost:4318.
	Endpoint string `koanf:"endpoint"`
	// Protocol is the OTLP protocol: "grpc" or "http/protobuf".
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL and OTEL_EXPORTER_OTLP_PROTOCOL
	// override it. Default "grpc".
	Protocol string `koanf:"protocol"`
	// SampleRatio is the share of new traces kept, from 0 to 1; a trace
	// continued from a caller keeps the caller's decision (parent-based).
	// OTEL_TRACES_SAMPLER (with OTEL_TRACES_SAMPLER_ARG) overrides it. Default 1.
	SampleRatio float64 `koanf:"sample_ratio"`
	// ServiceName is the service.name of every span. OTEL_SERVICE_NAME
	// overrides it; OTEL_RESOURCE_ATTRIBUTES adds attributes. Default "fedsaga".
	ServiceName string `koanf:"service_name"`
}

// OTLP protocols (telemetry.protocol).
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// DefaultTelemetry returns the defaults of [telemetry]: tracing off.
func DefaultTelemetry() Telemetry {
	return Telemetry{Protocol: ProtocolGRPC, SampleRatio: 1, ServiceName: "fedsaga"}
}

// telemetry checks [telemetry], also while it is off, so that turning it
// on later meets no surprise.
func (v *validator) telemetry(t Telemetry) {
	v.oneOf("telemetry.protocol", t.Protocol, ProtocolGRPC, ProtocolHTTP)
	v.want(t.SampleRatio >= 0 && t.SampleRatio <= 1, "telemetry.sample_ratio", "must be from 0 to 1, got %v", t.SampleRatio)
	v.notEmpty("telemetry.service_name", t.ServiceName)
	if t.Endpoint != "" {
		u, err := url.Parse(t.Endpoint)
		v.want(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "telemetry.endpoint",
			`want a URL such as "http://127.0.0.1:4317" (http:// for plaintext, https:// for TLS), got %q`, t.Endpoint)
	}
}
