// Command fedsaga runs and operates fedsaga: the worker, schema migrations,
// demo data, health checks, configuration and placing orders.
//
// Exit codes: 0 success, 1 failure (a dependency down, a saga error),
// 2 bad command-line input: an unknown command or flag, a bad flag value
// (nothing was started or written).
//
// The CLI is built with cobra (github.com/spf13/cobra): the most widely used
// Go CLI library, kept up by a large community, with nested subcommands,
// persistent flags and generated help, which fedsaga's command tree needs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root, a := newApp()
	defer a.close()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "fedsaga:", err)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// usageError is bad command-line input: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}
