package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/worker"
)

func (a *app) eventsDLQCmd() *cobra.Command {
	cmd := group("dlq", "List, show, replay and purge the dead letters in "+config.DeadLetterStream,
		a.dlqListCmd(), a.dlqShowCmd(), a.dlqReplayCmd(), a.dlqPurgeCmd())
	cmd.Long = `The dead-letter stream ` + config.DeadLetterStream + ` keeps a copy of every order event that a
consumer did not acknowledge after its max deliveries, with the original subject, stream sequence,
consumer, delivery count and event id. The worker moves them there from the server's
max-deliveries advisories (stream ` + config.AdvisoryStream + `), also those of the time no fedsaga
process ran. A dead letter's ID is its sequence in ` + config.DeadLetterStream + `.`
	return cmd
}

// withDeadLetters loads the configuration, connects to NATS and runs fn
// on the dead-letter stream.
func (a *app) withDeadLetters(ctx context.Context, fn func(*consumer.DeadLetters) error) error {
	if err := a.load(); err != nil {
		return err
	}
	nc, err := worker.ConnectNATS(a.cfg.NATS, a.logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("nats: jetstream: %w", err)
	}
	dlq, err := consumer.OpenDeadLetters(ctx, js, config.DeadLetterStream)
	if err != nil {
		return err
	}
	return fn(dlq)
}

// deadLetterID parses the ID argument of a dlq command (exit code 2 when
// it is no dead-letter id).
func deadLetterID(cmd *cobra.Command, arg string) (uint64, error) {
	id, err := strconv.ParseUint(arg, 10, 64)
	if err != nil || id == 0 {
		return 0, usagef("%s: ID %q is not a dead-letter id: want the number that `fedsaga events dlq list` shows", cmd.CommandPath(), arg)
	}
	return id, nil
}

func oneID(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef("%s takes one dead-letter id, got %d arguments", cmd.CommandPath(), len(args))
	}
	_, err := deadLetterID(cmd, args[0])
	return err
}

func (a *app) dlqListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the dead letters, oldest first, with where each came from and whether it was replayed",
		Args:  noArgs,
	}
	out := outputFlag(cmd, "text")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return a.withDeadLetters(cmd.Context(), func(d *consumer.DeadLetters) error {
			list, err := d.List(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), list, func(w io.Writer) error { return printDeadLetters(w, list) })
		})
	}
	return cmd
}

func printDeadLetters(w io.Writer, list []consumer.DeadLetter) error {
	if len(list) == 0 {
		_, err := fmt.Fprintf(w, "no dead letters in %s\n", config.DeadLetterStream)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDEAD SINCE\tSUBJECT\tSTREAM SEQ\tCONSUMER\tDELIVERIES\tEVENT ID\tSTATUS")
	for _, dl := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s:%d\t%s\t%d\t%s\t%s\n", dl.ID, dl.Time.Format(time.RFC3339), dl.Subject,
			dl.Stream, dl.Sequence, dl.Consumer, dl.Deliveries, dl.EventID, status(dl))
	}
	return tw.Flush()
}

// status is a dead letter's status in words.
func status(dl consumer.DeadLetter) string {
	if dl.Status == consumer.StatusReplayed {
		return fmt.Sprintf("replayed (%s:%d)", dl.Stream, dl.ReplayedAs)
	}
	return dl.Status
}

func (a *app) dlqShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a dead letter: where it came from, why, its headers and its event",
		Args:  oneID,
	}
	out := outputFlag(cmd, "text")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id, _ := deadLetterID(cmd, args[0])
		return a.withDeadLetters(cmd.Context(), func(d *consumer.DeadLetters) error {
			dl, err := d.Get(cmd.Context(), id)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), dl, func(w io.Writer) error {
				fmt.Fprintf(w, "dead letter %d, dead since %s: %s\n", dl.ID, dl.Time.Format(time.RFC3339), status(dl))
				fmt.Fprintf(w, "from: %s sequence %d, subject %s\n", dl.Stream, dl.Sequence, dl.Subject)
				fmt.Fprintf(w, "consumer: %s, %d deliveries\n", dl.Consumer, dl.Deliveries)
				fmt.Fprintf(w, "event id: %s\n", dl.EventID)
				if dl.Reason != "" {
					fmt.Fprintf(w, "reason: %s\n", dl.Reason)
				}
				for _, k := range slices.Sorted(maps.Keys(dl.Headers)) {
					fmt.Fprintf(w, "header %s: %s\n", k, strings.Join(dl.Headers[k], ", "))
				}
				_, err := fmt.Fprintf(w, "data: %s\n", dl.Data)
				return err
			})
		})
	}
	return cmd
}

func (a *app) dlqReplayCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "replay ID | --all",
		Short: "Put dead letters back in their stream, with their original event id; replaying again changes nothing",
		Long: `Replay puts the event of a dead letter back in its stream, on its original subject and with its
original event id as Nats-Msg-Id: every consumer of that subject gets it again (fedsaga's consumers
skip event ids they already handled). The original message is deleted first, because the order
events stream keeps one message per subject. A dead letter whose event is back in the stream
already is reported "replayed" and nothing changes, so a replay can be run again safely.
Inside the stream's duplicate window (nats.jetstream.streams.ORDERS.duplicate_window) after the
event was published, a republish with its id would be dropped: replay refuses, changes nothing
and says when to try again. Dead letters stay listed (status "replayed") until purged.`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) > 0:
				return usagef("%s: give an ID or --all, not both", cmd.CommandPath())
			case all:
				return nil
			case len(args) == 0:
				return usagef("%s: give a dead-letter ID (see `fedsaga events dlq list`) or --all", cmd.CommandPath())
			}
			return oneID(cmd, args)
		},
	}
	out := outputFlag(cmd, "text")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return a.withDeadLetters(cmd.Context(), func(d *consumer.DeadLetters) error {
			var done []consumer.DeadLetter
			var err error
			if all {
				done, err = d.ReplayAll(cmd.Context())
			} else {
				id, _ := deadLetterID(cmd, args[0])
				var dl consumer.DeadLetter
				if dl, err = d.Replay(cmd.Context(), id); err == nil {
					dl.Headers, dl.Data = nil, nil
					done = []consumer.DeadLetter{dl}
				}
			}
			if done == nil {
				done = []consumer.DeadLetter{}
			}
			if perr := out.print(cmd.OutOrStdout(), done, func(w io.Writer) error {
				for _, dl := range done {
					fmt.Fprintf(w, "dead letter %d (event %s): %s\n", dl.ID, dl.EventID, status(dl))
				}
				return nil
			}); perr != nil {
				return errors.Join(err, perr)
			}
			return err
		})
	}
	cmd.Flags().BoolVar(&all, "all", false, "replay every dead letter not replayed yet, oldest first")
	return cmd
}

func (a *app) dlqPurgeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Remove every dead letter from " + config.DeadLetterStream,
		Args:  noArgs,
	}
	out := outputFlag(cmd, "text")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return a.withDeadLetters(cmd.Context(), func(d *consumer.DeadLetters) error {
			n, err := d.Purge(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), map[string]uint64{"purged": n}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "purged %d dead letters from %s\n", n, config.DeadLetterStream)
				return err
			})
		})
	}
	return cmd
}
