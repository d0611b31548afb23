package worker

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
)

// ProfileCPU calls run, writing a pprof CPU profile of it to path; with an
// empty path it only calls run. `fedsaga worker --cpu-profile` and the
// benchmarks' floor worker profile their whole run with it. Read the file
// with `go tool pprof BINARY PATH`.
func ProfileCPU(path string, run func() error) error {
	if path == "" {
		return run()
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("cpu profile %s: %w", path, err)
	}
	err = run()
	pprof.StopCPUProfile()
	if cerr := f.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("cpu profile %s: %w", path, cerr))
	}
	return err
}
