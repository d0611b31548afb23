package main

import (
	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/worker"
)

func (a *app) workerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run a worker: the order saga's workflow and activities on the task queue",
		Long: `Run a worker until SIGINT or SIGTERM, then stop gracefully (worker.stop_timeout).
Workers are stateless: start as many as you like on one task queue.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			w, err := worker.New(cmd.Context(), a.cfg, a.logger)
			if err != nil {
				return err
			}
			defer w.Close()
			return w.Run(cmd.Context())
		},
	}
}
