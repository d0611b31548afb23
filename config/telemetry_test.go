package config

import (
	"slices"
	"testing"
)

func TestTelemetryKeys(t *testing.T) {
	c, err := Load(writeConfig(t, minimal+`[telemetry]
enabled = true
endpoint = "http://collector:4318"
protocol = "http/protobuf"
sample_ratio = 0.25
service_name = "orders-worker"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Telemetry{Enabled: true, Endpoint: "http://collector:4318", Protocol: ProtocolHTTP, SampleRatio: 0.25, ServiceName: "orders-worker"}
	if c.Telemetry != want {
		t.Errorf("telemetry = %+v, want %+v", c.Telemetry, want)
	}
	t.Setenv("FEDSAGA_TELEMETRY__SAMPLE_RATIO", "0.5")
	t.Setenv("FEDSAGA_TELEMETRY__ENABLED", "true")
	if c, err = Load(writeConfig(t, minimal+"[telemetry]\nsample_ratio = 1\n")); err != nil {
		t.Fatal(err)
	}
	if c.Telemetry.SampleRatio != 0.5 || !c.Telemetry.Enabled {
		t.Errorf("telemetry = %+v, want the environment's sample_ratio 0.5 and enabled", c.Telemetry)
	}
}

func TestTelemetryErrorsNameTheKey(t *testing.T) {
	_, err := Load(writeConfig(t, minimal+`[telemetry]
endpoint = "collector:4317"
protocol = "http/json"
sample_ratio = 1.5
service_name = ""
`))
	got := errorList(err)
	for _, w := range []string{
		`config: telemetry.endpoint: want a URL such as "http://127.0.0.1:4317" (http:// for plaintext, https:// for TLS), got "collector:4317"`,
		`config: telemetry.protocol: "http/json" is not one of grpc, http/protobuf`,
		`config: telemetry.sample_ratio: must be from 0 to 1, got 1.5`,
		`config: telemetry.service_name: must not be empty`,
	} {
		if !slices.Contains(got, w) {
			t.Errorf("missing %s\ngot %q", w, got)
		}
	}
	t.Setenv("FEDSAGA_TELEMETRY__SAMPLE_RATIO", "half")
	_, err = Load(writeConfig(t, minimal))
	if got := errorList(err); len(got) != 1 || got[0] != `config: telemetry.sample_ratio: invalid number "half" (from FEDSAGA_TELEMETRY__SAMPLE_RATIO)` {
		t.Errorf("got %q", got)
	}
}
