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
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
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

// claim inserts the barrier row (saga, step, op), with the saga's reason
// for a compensation's row ("" for none), and reports whether this call
// inserted it. false means the row was there already.
func claim(ctx context.Context, tx pgx.Tx, sagaID, step, op, reason string) (bool, error) {
	tag, err := tx.Exec(ctx,
		`INSERT INTO tb_barrier (saga_id, step, op, reason) VALUES ($1, $2, $3, NULLIF($4::text, '')) ON CONFLICT DO NOTHING`,
		sagaID, step, op, reason)
	if err != nil {
		return false, fmt.Errorf("barrier %s/%s/%s: %w", sagaID, step, op, err)
	}
	return tag.RowsAffected() == 1, nil
}

// barrierQuery is the WITH query that claims a step's action row, named
// barrier: one row when this statement inserted it, none when it was
// there already (a duplicate, or the compensation ran first).
const barrierQuery = `barrier AS (
	INSERT INTO tb_barrier (saga_id, step, op) VALUES (@saga_id, @step, 'action')
	ON CONFLICT DO NOTHING RETURNING 1)`

// stepStatement is a forward step's statement: its WITH queries after
// barrierQuery, every write guarded by `EXISTS (SELECT FROM barrier)`, the
// last of them
//
//	result (first, failure_type, failure) AS (SELECT EXISTS (SELECT FROM barrier), ...)
//
// where failure_type and failure are a business failure's type (spec.Err...)
// and message when the barrier row is new and the write cannot be done,
// NULL otherwise. What names the write in errors ("reserve stock").
type stepStatement struct {
	What string
	SQL  string
	Args pgx.NamedArgs
}

// stepEnd ends every forward step's statement: fedsaga_step (a function of
// each database's schema) raises a business failure as SQLSTATE
// stepFailedCode, so the whole statement rolls back, barrier row included,
// and else sends the step notification when the barrier row is new.
const stepEnd = `
SELECT fedsaga_step(first, failure_type, failure, @step_channel::text, @step_payload::text) FROM result`

// stepFailedCode is the SQLSTATE of fedsaga_step's business failure: its
// message is the failure's, its detail the failure's type.
const stepFailedCode = "FS001"

// forward runs a step's business write behind the barrier in one round
// trip: one statement, its own transaction (barrier row, write and, with
// [saga] notify_steps, the step notification commit together or not at
// all). A business failure raised by the statement leaves nothing written
// and is returned as a non-retryable error of its type. When the action row
// existed already, the step is a duplicate or its compensation ran first: it
// wrote nothing, and forward reports success, saying in the result whether
// the compensation's row is there and the reason it holds (a second
// statement, on this path only: one that sees a compensation that committed
// while the first waited for its action row).
func (a *Activities) forward(ctx context.Context, db *pg.DB, o spec.Order, step string, st stepStatement) (spec.StepResult, error) {
	logger, sagaID := stepLogger(ctx, o, step), o.SagaID
	payload, err := a.stepPayload(o, step, StepCompleted)
	if err != nil {
		return spec.StepResult{}, err
	}
	st.Args["saga_id"], st.Args["step"] = sagaID, step
	st.Args["step_channel"], st.Args["step_payload"] = a.StepChannel, payload
	var res spec.StepResult
	err = db.Query(ctx, func(c *pgxpool.Conn) error {
		var first bool
		err := c.QueryRow(ctx, "WITH "+barrierQuery+",\n"+st.SQL+stepEnd, st.Args).Scan(&first)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == stepFailedCode:
			return business(pgErr.Detail, "%s", pgErr.Message)
		case err != nil:
			return fmt.Errorf("%s: %w", st.What, err)
		case first:
			return nil
		}
		var reason *string
		err = c.QueryRow(ctx, `SELECT reason FROM tb_barrier WHERE saga_id = $1 AND step = $2 AND op = 'compensate'`,
			sagaID, step).Scan(&reason)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			logger.Info("step already ran: nothing to do")
			return nil
		case err != nil:
			return fmt.Errorf("barrier %s/%s: %w", sagaID, step, err)
		}
		res.Compensated = true
		if reason != nil {
			res.Reason = *reason
		}
		logger.Warn("step was compensated already: nothing to do; the saga compensates", "reason", res.Reason)
		return nil
	})
	if err != nil {
		return spec.StepResult{}, err
	}
	return res, nil
}

// claimCompensation inserts, in one statement, the step's action row (new:
// the action never ran, and the row now blocks a late one), the
// compensation's own row with the saga's reason (not new: a duplicate)
// and, when the compensation
// is new, the action rows of the steps in block, so that their late
// actions change nothing either.
const claimCompensation = `WITH action AS (
	INSERT INTO tb_barrier (saga_id, step, op) VALUES ($1, $2, 'action')
	ON CONFLICT DO NOTHING RETURNING 1),
own AS (
	INSERT INTO tb_barrier (saga_id, step, op, reason) VALUES ($1, $2, 'compensate', NULLIF($4::text, ''))
	ON CONFLICT DO NOTHING RETURNING 1),
block AS (
	INSERT INTO tb_barrier (saga_id, step, op)
	SELECT $1, b, 'action' FROM unnest($3::text[]) b WHERE EXISTS (SELECT FROM own)
	ON CONFLICT DO NOTHING)
SELECT EXISTS (SELECT FROM own), EXISTS (SELECT FROM action)`

// compensate runs a step's undo behind the barrier, in one local transaction.
// It first claims the barrier rows (claimCompensation): when the step's
// action row is new, the action never ran (a null compensation) and the
// row now blocks a late action; when the compensation's own row exists
// already, this is a duplicate and nothing happens. Otherwise undo runs,
// told whether the action ran, in a statement of its own: one that sees
// what an action committed while the claim waited for it.
func (a *Activities) compensate(ctx context.Context, db *pg.DB, o spec.Order, step string, block []string, undo func(tx pgx.Tx, ran bool) error) error {
	logger, sagaID := stepLogger(ctx, o, step), o.SagaID
	return db.Tx(ctx, func(tx pgx.Tx) error {
		var first, neverRan bool
		err := tx.QueryRow(ctx, claimCompensation, sagaID, step, block, o.Reason).Scan(&first, &neverRan)
		if err != nil {
			return fmt.Errorf("barrier %s/%s: %w", sagaID, step, err)
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
