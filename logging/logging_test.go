package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestTimestampsHaveMilliseconds(t *testing.T) {
	var buf bytes.Buffer
	logger, err := New(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	logger.Info().Msg("hello")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if ts, _ := line["time"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`).MatchString(ts) {
		t.Errorf("time %q: want RFC 3339 with milliseconds", ts)
	}

	buf.Reset()
	if logger, err = New(&buf, "info", "console"); err != nil {
		t.Fatal(err)
	}
	logger.Info().Msg("hello")
	if !regexp.MustCompile(`^(\x1b\[\d+m)?\d\d:\d\d:\d\d\.\d{3}\b`).MatchString(buf.String()) {
		t.Errorf("console line %q: want the time of day with milliseconds first", buf.String())
	}
}

func TestTraceIDsOnLinesInsideASpan(t *testing.T) {
	var buf bytes.Buffer
	logger, err := New(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	logger.Info().Ctx(ctx).Msg("inside") // the event's context
	withCtx := logger.With().Ctx(ctx).Logger()
	withCtx.Info().Msg("inside too")      // the logger's context
	Temporal(logger).Info("from the SDK") // no context: no ids
	logger.Info().Msg("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatal(err)
		}
		traced := i < 2
		if got := line["trace_id"] == sc.TraceID().String() && line["span_id"] == sc.SpanID().String(); got != traced {
			t.Errorf("line %d %s: trace ids present %v, want %v", i, l, got, traced)
		}
		if _, has := line["trace_id"]; has && !traced {
			t.Errorf("line %d %s: trace_id outside a span", i, l)
		}
	}
}
