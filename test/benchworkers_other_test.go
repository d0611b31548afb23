//go:build !linux

package test

import "os/exec"

// stopWithParent does nothing where the kernel cannot signal a child when
// its parent dies: the benchmarks' cleanups stop the workers.
func stopWithParent(*exec.Cmd) {}
