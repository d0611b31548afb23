package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/worker"
)

// consumerFlags adds --consumer and --partitions to events tail.
func consumerFlags(cmd *cobra.Command) {
	cmd.Flags().String("consumer", "", "read through the consumer configured as [nats.jetstream.consumers.NAME]")
	cmd.Flags().IntSlice("partitions", nil, "with a partitioned --consumer: the partitions this process reads, e.g. 0,1 (default all)")
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		return exclusive(cmd, "consumer", "durable", "type", "max-deliver")
	}
}

// exclusive refuses flag, given with any of others, as bad input (exit
// code 2).
func exclusive(cmd *cobra.Command, flag string, others ...string) error {
	if !cmd.Flags().Changed(flag) {
		return nil
	}
	for _, o := range others {
		if cmd.Flags().Changed(o) {
			return usagef("--%s and --%s exclude each other", flag, o)
		}
	}
	return nil
}

// tailOptions are the consumer options of events tail: opts from the
// flags, or those of the configured --consumer.
func (a *app) tailOptions(cmd *cobra.Command, opts consumer.Options) (consumer.Options, error) {
	name, _ := cmd.Flags().GetString("consumer")
	parts, _ := cmd.Flags().GetIntSlice("partitions")
	if name == "" {
		if len(parts) > 0 {
			return opts, usagef("--partitions needs --consumer (a partitioned configured consumer)")
		}
		return opts, nil
	}
	configured, err := consumer.Configured(a.cfg, name)
	if err != nil {
		return opts, usagef("--consumer %s: %w", name, err)
	}
	configured.Logger = opts.Logger
	if len(parts) > 0 {
		c := a.cfg.NATS.JetStream.Consumers[name]
		if !c.Partitioned {
			return opts, usagef("--partitions: consumer %s is not partitioned (nats.jetstream.consumers.%s.partitioned)", name, name)
		}
		for _, p := range parts {
			if p < 0 || p >= configured.PartitionCount {
				return opts, usagef("--partitions %d: want 0 to %d (nats.partitions.count is %d)", p, configured.PartitionCount-1, configured.PartitionCount)
			}
		}
		configured.Partitions = parts
	}
	return configured, nil
}

func (a *app) eventsConsumersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "consumers",
		Short: "List the consumers of the event streams with their lag: pending, ack-pending, redelivered, last activity",
		Long: `List every consumer of the configured streams (and every configured consumer
missing from the server) with its lag: messages pending (not delivered yet),
ack-pending (delivered, not acknowledged), redelivered (delivered more than once,
not acknowledged) and the time of its last delivery or acknowledgement.
The worker exports the same for the configured consumers as fedsaga_consumer_*
metrics.`,
		Args: noArgs,
	}
	out := outputFlag(cmd, "text")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		js, closeNATS, err := a.jetStream()
		if err != nil {
			return err
		}
		defer closeNATS()
		ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
		defer cancel()
		lags, err := consumer.Lags(ctx, js, slices.Sorted(maps.Keys(a.cfg.NATS.JetStream.Streams)), consumer.Specs(a.cfg))
		if err != nil {
			return err
		}
		if lags == nil {
			lags = []consumer.Lag{}
		}
		return out.print(cmd.OutOrStdout(), lags, func(w io.Writer) error {
			if len(lags) == 0 {
				_, err := fmt.Fprintln(w, "no consumers")
				return err
			}
			if _, err := fmt.Fprintln(w, consumer.LagHeader); err != nil {
				return err
			}
			return lines(lags)(w)
		})
	}
	return cmd
}

// jetStream loads the configuration and connects to NATS; close closes the
// connection.
func (a *app) jetStream() (_ jetstream.JetStream, close func(), err error) {
	if err := a.load(); err != nil {
		return nil, nil, err
	}
	nc, err := worker.ConnectNATS(a.cfg.NATS, a.logger)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}
