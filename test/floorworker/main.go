// Command floorworker runs the benchmarks' floor (package floor: a bare
// workflow with as many no-op activities as the order saga runs on its
// happy path, and its shaped variant), on a worker set up as `fedsaga
// worker` sets up its own: the same configuration (file and FEDSAGA_
// environment), the same Temporal client and the same worker options,
// interceptors included. With saga.mode = "local" all six are local
// activities, as in the order saga, whose publish runs as a local activity
// in local mode too. The benchmarks in package test build and start it:
//
//	floorworker --config fedsaga.toml
//
// The difference between the order saga and this workflow, on the same
// server and the same machine, is what fedsaga's own code costs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	tworker "go.temporal.io/sdk/worker"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/logging"
	"github.com/fedsaga/fedsaga/test/floor"
	"github.com/fedsaga/fedsaga/worker"
)

func main() {
	configPath := flag.String("config", "", "configuration file (default: $FEDSAGA_CONFIG, then ./fedsaga.toml)")
	cpuProfile := flag.String("cpu-profile", "", "write a pprof CPU profile of the run to this file (as `fedsaga worker --cpu-profile`)")
	flag.Parse()
	if err := worker.ProfileCPU(*cpuProfile, func() error { return run(*configPath) }); err != nil {
		fmt.Fprintln(os.Stderr, "floorworker:", err)
		os.Exit(1)
	}
}

func run(configPath string) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	logger, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	c, err := worker.DialTemporal(context.Background(), cfg, logger)
	if err != nil {
		return err
	}
	defer c.Close()
	w := tworker.New(c, cfg.Temporal.TaskQueue, worker.Options(cfg.Worker))
	floor.Register(w, cfg.Saga.Mode == config.ModeLocal)
	logger.Info().Str("task_queue", cfg.Temporal.TaskQueue).Str("mode", cfg.Saga.Mode).Msg("floor worker started")
	return w.Run(tworker.InterruptCh())
}
