// Package logging builds fedsaga's zerolog logger and hands it to the
// Temporal SDK, so that every component logs through one logger.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	tlog "go.temporal.io/sdk/log"
)

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
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	case "auto", "":
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
		}
	default:
		return zerolog.Nop(), fmt.Errorf("log.format %q: want auto, json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// Temporal adapts a zerolog logger for the Temporal SDK (client and worker
// options' Logger).
func Temporal(logger zerolog.Logger) tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(zerolog.NewSlogHandler(logger)))
}
