package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/fedsaga/fedsaga/starter"
)

func (a *app) orderCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "order",
		Short: "Place orders",
	}
	cmd.AddCommand(a.orderPlaceCmd())
	return cmd
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
Placing the same --order-id twice runs one saga.
Bad input exits with code 2 and starts nothing.`,
		Example: `  fedsaga order place --customer alice --item WIDGET=2 --item GADGET=1 --wait`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := placeRequest(customer, orderID, items)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return a.withTemporal(ctx, func(c client.Client) error {
				h, err := starter.PlaceOrder(ctx, c, req, starter.TaskQueue(a.cfg.Temporal.TaskQueue))
				if err != nil {
					return err
				}
				if !wait {
					fmt.Fprintln(cmd.OutOrStdout(), h.OrderID)
					return nil
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "order %s placed (workflow %s); waiting for the outcome\n", h.OrderID, h.WorkflowID)
				out, err := h.Result(ctx)
				if err != nil {
					return err
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&customer, "customer", "", "customer id (required)")
	f.StringArrayVar(&items, "item", nil, "an item as SKU=QTY, QTY a positive integer (repeatable, at least one)")
	f.StringVar(&orderID, "order-id", "", "order id (default: a new one); the saga's workflow id is order-<id>")
	f.BoolVar(&wait, "wait", false, "wait for the outcome and print it as JSON")
	return cmd
}

// placeRequest checks the command line before anything is contacted; every
// problem names its flag and exits with code 2.
func placeRequest(customer, orderID string, items []string) (starter.Request, error) {
	var errs []string
	if strings.TrimSpace(customer) == "" {
		errs = append(errs, "--customer: required")
	}
	if len(items) == 0 {
		errs = append(errs, "--item: at least one SKU=QTY is required")
	}
	req := starter.Request{OrderID: orderID, CustomerID: customer}
	for _, s := range items {
		it, err := starter.ParseItem(s)
		if err != nil {
			errs = append(errs, "--item "+err.Error())
			continue
		}
		req.Items = append(req.Items, it)
	}
	if len(errs) == 0 {
		probe := req
		if probe.OrderID == "" {
			probe.OrderID = "x"
		}
		var err error
		if err = probe.Validate(); err != nil {
			errs = append(errs, flagNames(err))
		}
	}
	if len(errs) > 0 {
		return req, usageError{errors.New(strings.Join(errs, "; "))}
	}
	return req, nil
}

// flagNames renames the workflow input's fields to the CLI's flags.
func flagNames(err error) string {
	return strings.NewReplacer(
		"order_id", "--order-id",
		"customer_id", "--customer",
		"items", "--item",
		"\n", "; ",
	).Replace(err.Error())
}
