// Package activities holds the order saga's activities. Each one performs a
// single local transaction in one database, or one publish to JetStream, and
// goes through the saga barrier (tb_barrier) so that a retried, duplicated or
// late delivery changes nothing twice.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/pg"
)

// Activities are the order saga's activities with their dependencies. The
// worker registers its methods under the names in package spec.
type Activities struct {
	Orders    *pg.DB
	Inventory *pg.DB
	Payments  *pg.DB
	// JetStream publishes the order events.
	JetStream jetstream.JetStream
	// Partitions ([nats.partitions] count) also publishes each event's
	// partition copy; 0 is off.
	Partitions int
	// Reader does the validate step's batched reads.
	Reader *federation.Reader
	// StepChannel, when not "", gets a pg_notify of every step that
	// commits ([saga] notify_steps): see notifyStep.
	StepChannel string
}

// New takes the three databases of the order saga from the registry; the
// validate step reads through a federation reader with the fed settings.
func New(dbs *pg.Registry, fed config.Federation, js jetstream.JetStream) (*Activities, error) {
	a := &Activities{JetStream: js}
	reader, err := federation.NewReader(dbs, fed)
	if err != nil {
		return nil, err
	}
	a.Reader = reader
	var errs []error
	for name, dst := range map[string]**pg.DB{
		config.OrdersDB: &a.Orders, config.InventoryDB: &a.Inventory, config.PaymentsDB: &a.Payments,
	} {
		db, err := dbs.DB(name)
		errs = append(errs, err)
		*dst = db
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// Op is the kind of a barrier row.
const (
	opAction     = "action"
	opCompensate = "compensate"
)

// claim inserts the barrier row (saga, step, op) and reports whether this
// call inserted it. false means the row was there already.
func claim(ctx context.Context, tx pgx.Tx, sagaID, step, op string) (bool, error) {
	tag, err := tx.Exec(ctx,
		`INSERT INTO tb_barrier (saga_id, step, op) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		sagaID, step, op)
	if err != nil {
		return false, fmt.Errorf("barrier %s/%s/%s: %w", sagaID, step, op, err)
	}
	return tag.RowsAffected() == 1, nil
}

// forward runs a step's business write behind the barrier, in one local
// transaction. When the step's action row exists already, the step is a
// duplicate or its compensation ran first: write nothing, report success.
func (a *Activities) forward(ctx context.Context, db *pg.DB, o spec.Order, step string, write func(pgx.Tx) error) error {
	logger, sagaID := stepLogger(ctx, o, step), o.SagaID
	return db.Tx(ctx, func(tx pgx.Tx) error {
		first, err := claim(ctx, tx, sagaID, step, opAction)
		if err != nil {
			return err
		}
		if !first {
			logger.Info("step already ran or was compensated: nothing to do")
			return nil
		}
		if err := a.notifyStep(ctx, tx, o, step, StepCompleted); err != nil {
			return err
		}
		return write(tx)
	})
}

// compensate runs a step's undo behind the barrier, in one local transaction.
// It first inserts the step's action row: when that succeeds the action never
// ran (a null compensation) and the row now blocks a late action. Then it
// inserts its own row: when that exists already, this is a duplicate and
// nothing happens. Otherwise undo runs, told whether the action ran.
func (a *Activities) compensate(ctx context.Context, db *pg.DB, o spec.Order, step string, undo func(tx pgx.Tx, ran bool) error) error {
	logger, sagaID := stepLogger(ctx, o, step), o.SagaID
	return db.Tx(ctx, func(tx pgx.Tx) error {
		neverRan, err := claim(ctx, tx, sagaID, step, opAction)
		if err != nil {
			return err
		}
		first, err := claim(ctx, tx, sagaID, step, opCompensate)
		if err != nil {
			return err
		}
		if !first {
			logger.Info("compensation already ran: nothing to do")
			return nil
		}
		if neverRan {
			logger.Info("step never ran: null compensation; a late action is now blocked")
		}
		if err := a.notifyStep(ctx, tx, o, step, StepCompensated); err != nil {
			return err
		}
		return undo(tx, !neverRan)
	})
}

// unless returns an undo that runs fn only when the step's action ran.
func unless(fn func(pgx.Tx) error) func(pgx.Tx, bool) error {
	return func(tx pgx.Tx, ran bool) error {
		if !ran {
			return nil
		}
		return fn(tx)
	}
}

// business is a non-retryable failure of the given type: the saga compensates.
func business(errType, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), errType, nil)
}

// stepLogger is the activity's logger with the order id and the step, so
// every line about a saga says which order and which step it is about.
func stepLogger(ctx context.Context, o spec.Order, step string) log.Logger {
	if !activity.IsActivity(ctx) {
		return log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	}
	return log.With(activity.GetLogger(ctx), "order_id", o.OrderID, "step", step)
}
