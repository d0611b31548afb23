//go:build linux

package test

import (
	"os/exec"
	"syscall"
)

// stopWithParent makes a worker process get SIGTERM when the benchmark
// process dies without running its cleanups (a go test timeout, a kill), so
// that no worker outlives its run.
func stopWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
