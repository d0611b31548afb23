package config

import (
	"errors"
	"fmt"
)

// ErrUnknownKey is matched (with errors.Is) by every Error about a key that
// is not part of the configuration, such as a misspelt "saga.timout".
var ErrUnknownKey = errors.New("unknown key")

// Error is one problem with one configuration key. Load and Validate report
// every problem they find, each as an *Error, joined with errors.Join.
// Its message reads "config: <key>: <problem>", for example
// `config: saga.timeout: invalid duration "5x"; use a Go duration such as "5s"`.
type Error struct {
	Key    string // the full dotted key, such as "databases.orders.url"; "" for none, such as an unreadable file
	Source string // the environment variable that set the value, if one did
	Err    error  // the problem itself
}

// Error implements error.
func (e *Error) Error() string {
	from := ""
	if e.Source != "" {
		from = " (from " + e.Source + ")"
	}
	var u unknownKeyError
	switch {
	case errors.As(e.Err, &u):
		return fmt.Sprintf("config: unknown key %q%s%s", e.Key, from, u.hint)
	case e.Key != "":
		return fmt.Sprintf("config: %s: %v%s", e.Key, e.Err, from)
	}
	return fmt.Sprintf("config: %v%s", e.Err, from)
}

// Unwrap returns the underlying problem.
func (e *Error) Unwrap() error { return e.Err }

// unknownKeyError is the Err of an Error about an unknown key; its hint
// names the closest known key if one is close enough to be a likely typo.
type unknownKeyError struct{ hint string }

func (u unknownKeyError) Error() string { return "unknown key" + u.hint }

func (u unknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

func keyErr(key, format string, args ...any) *Error {
	return &Error{Key: key, Err: fmt.Errorf(format, args...)}
}
