package main

import (
	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/worker"
)

func (a *app) workerCmd() *cobra.Command {
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker: the order saga's workflow and activities on the task queue",
		Long: `Run a worker until SIGINT or SIGTERM, then stop gracefully (worker.stop_timeout).
Workers are stateless: start as many as you like on one task queue.

--cpu-profile FILE writes a pprof CPU profile of the whole run, complete once
the worker has stopped: go tool pprof $(command -v fedsaga) FILE`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			return worker.ProfileCPU(cpuProfile, func() error {
				w, err := worker.New(cmd.Context(), a.cfg, a.logger)
				if err != nil {
					return err
				}
				defer w.Close()
				return w.Run(cmd.Context())
			})
		},
	}
	cmd.Flags().StringVar(&cpuProfile, "cpu-profile", "", "write a pprof CPU profile of the worker's run to this file")
	return cmd
}
