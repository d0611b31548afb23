// Package logging builds fedsaga's zerolog logger and hands it to the
// Temporal SDK, so that every component logs through one logger.
//
// Every line has a timestamp with milliseconds (TimeFormat; in the console
// format, the time of day with milliseconds), and every line written with a
// context that holds a span (zerolog's Ctx) carries trace_id and span_id.
// The Temporal SDK's workflow and activity loggers add them through the
// tracing interceptor (package tracing).
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
	tlog "go.temporal.io/sdk/log"
)

// TimeFormat is the format of the time of every JSON line: RFC 3339 with
// milliseconds, such as 2026-12-02T07:30:00.123Z.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// consoleTime is the console format's time: the time of day with milliseconds.
const consoleTime = "15:04:05.000"

func init() {
	// zerolog keeps the time format in a global; setting it once, before
	// any logger of the process writes, keeps it free of data races.
	zerolog.TimeFieldFormat = TimeFormat
}

// New builds a logger writing to w: JSON lines for format "json",
// human-readable for "console", and for "auto" human-readable when w is a
// terminal and JSON otherwise.
func New(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("log.level %q: want trace, debug, info, warn or error", level)
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: consoleTime}
	case "auto", "":
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: consoleTime}
		}
	default:
		return zerolog.Nop(), fmt.Errorf("log.format %q: want auto, json or console", format)
	}
	return zerolog.New(w).Level(lvl).Hook(TraceHook{}).With().Timestamp().Logger(), nil
}

// TraceHook adds trace_id and span_id to a line whose context (Event.Ctx or
// the logger's With().Ctx) holds a valid span.
type TraceHook struct{}

// Run implements zerolog.Hook.
func (TraceHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	ctx := e.GetCtx()
	if ctx == nil {
		return
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		e.Str("trace_id", sc.TraceID().String()).Str("span_id", sc.SpanID().String())
	}
}

// Temporal adapts a zerolog logger for the Temporal SDK (client and worker
// options' Logger).
func Temporal(logger zerolog.Logger) tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(zerolog.NewSlogHandler(logger)))
}
