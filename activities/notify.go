package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fedsaga/fedsaga/activities/spec"
)

// Statuses of a step notification.
const (
	StepCompleted   = "completed"   // a forward step committed its write
	StepCompensated = "compensated" // a compensation committed (also a null one: the step never ran)
)

// StepNotification is the JSON payload of a step notification ([saga]
// notify_steps), on the channel [saga] notify_channel of the database the
// step wrote.
type StepNotification struct {
	SagaID  string `json:"saga_id"`
	OrderID string `json:"order_id"`
	Step    string `json:"step"`   // spec.StepCreate, spec.StepReserve, ...
	Status  string `json:"status"` // StepCompleted or StepCompensated
}

// notifyStep sends the step's notification in the step's transaction when
// StepChannel is set. PostgreSQL delivers a notification only when its
// transaction commits, so a listener ([[observers]]) hears exactly the
// steps that committed; a duplicate that writes nothing sends none. (A
// forward step's statement sends its own: see stepEnd.)
func (a *Activities) notifyStep(ctx context.Context, tx pgx.Tx, o spec.Order, step, status string) error {
	payload, err := a.stepPayload(o, step, status)
	if err != nil || payload == "" {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, a.StepChannel, payload); err != nil {
		return fmt.Errorf("notify step %s (%s) on %s: %w", step, status, a.StepChannel, err)
	}
	return nil
}

// stepPayload is the step's notification, "" when StepChannel is not set.
func (a *Activities) stepPayload(o spec.Order, step, status string) (string, error) {
	if a.StepChannel == "" {
		return "", nil
	}
	payload, err := json.Marshal(StepNotification{SagaID: o.SagaID, OrderID: o.OrderID, Step: step, Status: status})
	return string(payload), err
}
