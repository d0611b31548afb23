package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/worker"
)

func (a *app) orderCmd() *cobra.Command {
	return group("order", "Place orders", a.orderPlaceCmd())
}

func (a *app) orderPlaceCmd() *cobra.Command {
	var (
		customer, orderID string
		items             []string
		wait              bool
	)
	cmd := &cobra.Command{
		Use:   "place --customer ID --item SKU=QTY [--item SKU=QTY ...] [--order-id ID] [--wait]",
		Short: "Start the order saga; with --wait, print its outcome as JSON",
		Long: `Start the order saga for a customer and items, and print the order id.
With --wait, wait for the outcome and print it as one JSON object:
{"order_id": ..., "status": "confirmed"|"cancelled", "reason": ..., ...}.
--output json prints the started saga as JSON without --wait, and
--output text prints the outcome as a line with --wait.
Placing the same --order-id twice runs one saga.
Bad input exits with code 2 and starts nothing.`,
		Example: `  fedsaga order place --customer alice --item WIDGET=2 --item GADGET=1 --wait`,
		Args:    noArgs,
	}
	out := outputFlag(cmd, "")
	cmd.Flags().Lookup("output").Usage = "output format: text or json (default: text, json with --wait)"
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		req, err := placeRequest(customer, orderID, items)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		return a.withTemporal(ctx, func(c client.Client) error {
			customer, err := a.customerAttribute()
			if err != nil {
				return err
			}
			// The saga settings of the same configuration as the workers'
			// travel in the input: the saga records no marker for them.
			h, err := starter.PlaceOrder(ctx, c, req, starter.TaskQueue(a.cfg.Temporal.TaskQueue), starter.Customer(customer),
				starter.WithSettings(worker.Settings(a.cfg.Saga, a.cfg.Events)))
			if err != nil {
				return err
			}
			if !wait {
				started := struct {
					OrderID    string `json:"order_id"`
					WorkflowID string `json:"workflow_id"`
					RunID      string `json:"run_id"`
				}{h.OrderID, h.WorkflowID, h.RunID}
				return out.or("text").print(cmd.OutOrStdout(), started, func(w io.Writer) error {
					_, err := fmt.Fprintln(w, h.OrderID)
					return err
				})
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "order %s placed (workflow %s); waiting for the outcome\n", h.OrderID, h.WorkflowID)
			res, err := h.Result(ctx)
			if err != nil {
				return err
			}
			return out.or("json").print(cmd.OutOrStdout(), res, func(w io.Writer) error {
				line := fmt.Sprintf("order %s: %s, %d cents", res.OrderID, res.Status, res.TotalCents)
				if res.Reason != "" {
					line += ": " + res.Reason
				}
				_, err := fmt.Fprintln(w, line)
				return err
			})
		})
	}
	f := cmd.Flags()
	f.StringVar(&customer, "customer", "", "customer id (required)")
	f.StringArrayVar(&items, "item", nil, fmt.Sprintf("an item as SKU=QTY, QTY from 1 to %d (repeatable, 1 to %d items)", starter.MaxQuantity, starter.MaxItems))
	f.StringVar(&orderID, "order-id", "", "order id (default: a new one); the saga's workflow id is order-<id>")
	f.BoolVar(&wait, "wait", false, "wait for the outcome and print it (as JSON unless --output text)")
	return cmd
}

// orderFlags are the command line's names of the order's fields.
var orderFlags = map[string]string{"order_id": "--order-id", "customer_id": "--customer", "items": "--item"}

// placeRequest checks the command line before anything is contacted; every
// problem names its flag and exits with code 2.
func placeRequest(customer, orderID string, items []string) (starter.Request, error) {
	req := starter.Request{OrderID: orderID, CustomerID: strings.TrimSpace(customer)}
	var errs []string
	for _, s := range items {
		it, err := starter.ParseItem(s)
		if err != nil {
			errs = append(errs, "--item "+err.Error())
			continue
		}
		req.Items = append(req.Items, it)
	}
	probe := req
	if probe.OrderID == "" {
		probe.OrderID = "x" // PlaceOrder makes one
	}
	noItems := len(errs) > 0 && len(req.Items) == 0
	for _, fe := range starter.FieldErrors(probe.Validate()) {
		if fe.Field == "items" && noItems {
			continue // the bad --item values are named already
		}
		field, path, _ := strings.Cut(fe.Field, "[")
		if path != "" {
			path = "[" + path
		}
		named := *fe
		named.Field = orderFlags[field] + path
		errs = append(errs, named.Error())
	}
	if len(errs) > 0 {
		return req, usageError{errors.New(strings.Join(errs, "; "))}
	}
	return req, nil
}
