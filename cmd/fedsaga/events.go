package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/events"
)

func (a *app) eventsCmd() *cobra.Command {
	return group("events", "Read the order events in NATS JetStream", a.eventsTailCmd(), a.eventsConsumersCmd(), a.eventsDLQCmd())
}

func (a *app) eventsTailCmd() *cobra.Command {
	var (
		types      []string
		durable    string
		maxDeliver int
	)
	cmd := &cobra.Command{
		Use:   "tail [--type " + strings.Join(events.Types, "|") + "]",
		Short: "Print order events as JSON lines, through a durable consumer with explicit acks, until interrupted",
		Long: `Print order events as JSON lines (CloudEvents envelopes) until SIGINT or SIGTERM;
--output text prints one line per event instead.
The events are read through the durable consumer --durable with explicit acks: a
second tail with the same name continues where the first stopped. Event ids
already printed are skipped; a message that cannot be handled --max-deliver times
moves to the dead-letter stream ORDERS_DLQ.
--consumer NAME reads through the consumer configured as
[nats.jetstream.consumers.NAME] instead (its durable, event types, ack wait,
deliveries, back-off, max ack pending and deliver policy); --partitions picks
which partitions of a partitioned one this process reads (default: all).`,
		Args: noArgs,
	}
	out := outputFlag(cmd, "json")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		for _, t := range types {
			if err := events.CheckType(t); err != nil {
				return usagef("--type: %w", err)
			}
		}
		js, closeNATS, err := a.jetStream()
		if err != nil {
			return err
		}
		defer closeNATS()
		ctx := cmd.Context()
		opts, err := a.tailOptions(cmd, consumer.Options{
			Stream: config.OrdersStream, Durable: durable, Types: types, MaxDeliver: maxDeliver, Logger: a.logger,
			ManageStreams: a.cfg.NATS.JetStream.ManageStreams,
		})
		if err != nil {
			return err
		}
		c, err := consumer.New(ctx, js, opts)
		if err != nil {
			return err
		}
		return c.Run(ctx, func(_ context.Context, ev events.Envelope) error {
			return out.print(cmd.OutOrStdout(), ev, func(w io.Writer) error {
				d := ev.Data
				_, err := fmt.Fprintf(w, "%s  %-15s  order %s  customer %s  %d cents  %s\n",
					ev.Time.UTC().Format(time.RFC3339), ev.Type, d.OrderID, d.CustomerID, d.TotalCents, d.Reason)
				return err
			})
		})
	}
	cmd.Flags().StringArrayVar(&types, "type", nil, "only this event type (repeatable)")
	cmd.Flags().StringVar(&durable, "durable", "fedsaga-events-tail", "durable consumer name")
	cmd.Flags().IntVar(&maxDeliver, "max-deliver", 5, "deliveries before a message goes to the dead-letter stream")
	consumerFlags(cmd)
	return cmd
}
