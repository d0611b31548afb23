package worker

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// StartCPUProfile writes a pprof CPU profile of this process to path until
// the returned stop is called: `fedsaga worker --cpu-profile` and the
// benchmarks' floor worker profile their whole run with it. Read it with
// `go tool pprof BINARY PATH`.
func StartCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu profile %s: %w", path, err)
		}
		return nil
	}, nil
}
