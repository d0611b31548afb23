package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/worker"
)

func (a *app) sagaCmd() *cobra.Command {
	return group("saga", "Inspect and operate sagas: status, list, compensate, retry-compensation, resolve",
		a.sagaStatusCmd(), a.sagaListCmd(), a.sagaCompensateCmd(), a.sagaRetryCmd(), a.sagaResolveCmd())
}

// withTemporal loads the configuration, dials Temporal and runs fn.
func (a *app) withTemporal(ctx context.Context, fn func(client.Client) error) error {
	if err := a.load(); err != nil {
		return err
	}
	c, err := worker.DialTemporal(ctx, a.cfg, a.logger)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

func orderID(cmd *cobra.Command, args []string) error {
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		return usagef("%s takes one order id, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

func (a *app) sagaStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status ORDER_ID",
		Short: "Show a saga's state: its status, and per step status, attempts, errors and times",
		Args:  orderID,
	}
	out := outputFlag(cmd, "text")
	jsonAlias(cmd, out)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return a.withTemporal(cmd.Context(), func(c client.Client) error {
			st, err := starter.SagaState(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), st, func(w io.Writer) error { return printState(w, args[0], st) })
		})
	}
	return cmd
}

func printState(w io.Writer, orderID string, st *starter.State) error {
	fmt.Fprintf(w, "order %s: %s\n", orderID, st.Status)
	if st.Step != "" {
		fmt.Fprintf(w, "step in progress: %s\n", st.Step)
	}
	if st.Reason != "" {
		fmt.Fprintf(w, "compensating because step %s failed: %s\n", st.FailedStep, st.Reason)
	}
	if st.Error != "" {
		fmt.Fprintf(w, "%s\n", st.Error)
	}
	if st.Status == starter.StatusCompensationFailed {
		fmt.Fprintf(w, "fix the cause, then run `fedsaga saga retry-compensation %[1]s`, or `fedsaga saga resolve %[1]s --reason R` when fixed by hand\n", orderID)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tATTEMPTS\tSTARTED\tENDED\tERROR")
	for _, s := range st.Steps {
		errText := s.Error
		if s.CompensationError != "" {
			errText = "compensation: " + s.CompensationError
		}
		if s.Resolution != "" {
			errText = "resolved by operator: " + s.Resolution
		}
		attempts := fmt.Sprint(s.Attempts)
		if s.CompensationAttempts > 0 {
			attempts += fmt.Sprintf(" (+%d compensation)", s.CompensationAttempts)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Status, attempts, clock(s.StartedAt), clock(s.EndedAt), errText)
	}
	return tw.Flush()
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05.000")
}

func (a *app) sagaListCmd() *cobra.Command {
	var f starter.Filter
	cmd := &cobra.Command{
		Use:   "list [--status S] [--stuck --older-than DURATION] [--customer ID]",
		Short: "List order sagas from Temporal's visibility store",
		Long: `List order sagas. --status keeps one SagaStatus (` + strings.Join(starter.Statuses, ", ") + `).
--stuck keeps unfinished sagas started more than --older-than ago (default 5m).
--customer keeps one customer's sagas; with codec.customer_id_attribute = "hash" the CUSTOMER
column shows the keyed hash that the CustomerId search attribute holds.`,
		Args: noArgs,
	}
	out := outputFlag(cmd, "text")
	jsonAlias(cmd, out)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if _, err := f.Query(time.Now()); err != nil {
			return usagef("--%s", err)
		}
		return a.withTemporal(cmd.Context(), func(c client.Client) error {
			var err error
			if f.CustomerAttribute, err = a.customerAttribute(); err != nil {
				return err
			}
			sagas, err := starter.List(cmd.Context(), c, f)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), sagas, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ORDER\tCUSTOMER\tSTATUS\tSTEP\tSTARTED\tEXECUTION")
				for _, s := range sagas {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.OrderID, s.CustomerID, s.Status, s.Step,
						s.StartedAt.UTC().Format(time.RFC3339), s.Execution)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				for _, s := range sagas {
					if s.Error != "" {
						fmt.Fprintf(cmd.ErrOrStderr(), "saga %s: STEP is SagaStep, the step in progress is unknown: %s\n", s.OrderID, s.Error)
					}
				}
				return nil
			})
		})
	}
	cmd.Flags().StringVar(&f.Status, "status", "", "keep sagas with this status")
	cmd.Flags().BoolVar(&f.Stuck, "stuck", false, "keep unfinished sagas older than --older-than")
	cmd.Flags().DurationVar(&f.OlderThan, "older-than", 5*time.Minute, "with --stuck: started longer ago than this")
	cmd.Flags().IntVar(&f.Limit, "limit", 100, "most sagas to list")
	cmd.Flags().StringVar(&f.Customer, "customer", "",
		"keep the sagas of this customer id (hashed as codec.customer_id_attribute says)")
	return cmd
}

func reasonRequired(reason *string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := orderID(cmd, args); err != nil {
			return err
		}
		if strings.TrimSpace(*reason) == "" {
			return usagef("--reason: required: say why, it is kept in the saga's history")
		}
		return nil
	}
}

func (a *app) operate(fn func(ctx context.Context, c client.Client, orderID string) error, done string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return a.withTemporal(cmd.Context(), func(c client.Client) error {
			if err := fn(cmd.Context(), c, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "order %s: %s; follow it with `fedsaga saga status %s`\n", args[0], done, args[0])
			return nil
		})
	}
}

func (a *app) sagaCompensateCmd() *cobra.Command {
	return a.reasonCmd("compensate ORDER_ID --reason R",
		"Abort a running saga: compensate the steps that may have run",
		"why the saga is aborted (required)", "compensation started", starter.Abort)
}

func (a *app) sagaRetryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retry-compensation ORDER_ID",
		Short: "Run the failed compensations of a saga in compensation_failed again",
		Args:  orderID,
	}
	cmd.RunE = a.operate(starter.RetryCompensation, "compensation retried")
	return cmd
}

func (a *app) sagaResolveCmd() *cobra.Command {
	return a.reasonCmd("resolve ORDER_ID --reason R",
		"Mark the failed compensations of a saga as fixed by hand; the saga finishes compensating",
		"what was fixed by hand (required)", "compensation resolved", starter.Resolve)
}

// reasonCmd is an operator command on one saga that requires --reason.
func (a *app) reasonCmd(use, short, reasonHelp, done string,
	fn func(ctx context.Context, c client.Client, orderID, reason string) error) *cobra.Command {
	var reason string
	cmd := &cobra.Command{Use: use, Short: short, Args: reasonRequired(&reason)}
	cmd.RunE = a.operate(func(ctx context.Context, c client.Client, id string) error {
		return fn(ctx, c, id, reason)
	}, done)
	cmd.Flags().StringVar(&reason, "reason", "", reasonHelp)
	return cmd
}
