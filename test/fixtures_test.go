package test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/starter"
)

// product is a product the test created in the inventory database.
type product struct {
	ID, SKU    string
	PriceCents int64
}

func (s *Stack) addProduct(t *testing.T, priceCents int64, stock int) product {
	t.Helper()
	p := product{ID: uniq(t, "prod"), PriceCents: priceCents}
	p.SKU = "SKU-" + p.ID
	_, err := s.pool(t, "inventory").Exec(context.Background(),
		`INSERT INTO tb_product (id, sku, name, price_cents, stock) VALUES ($1, $2, $3, $4, $5)`,
		p.ID, p.SKU, "Test "+p.ID, priceCents, stock)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *Stack) addCustomer(t *testing.T, balanceCents int64) string {
	t.Helper()
	id := uniq(t, "cust")
	_, err := s.pool(t, "payments").Exec(context.Background(),
		`INSERT INTO tb_account (customer_id, name, balance_cents) VALUES ($1, $2, $3)`, id, "Test", balanceCents)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (s *Stack) scalar(t *testing.T, db, sql string, args ...any) any {
	t.Helper()
	var v any
	err := s.pool(t, db).QueryRow(context.Background(), sql, args...).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		t.Fatalf("%s: %s: %v", db, sql, err)
	}
	return v
}

func (s *Stack) stock(t *testing.T, p product) int64 {
	return int64(s.scalar(t, "inventory", `SELECT stock FROM tb_product WHERE id = $1`, p.ID).(int32))
}

func (s *Stack) balance(t *testing.T, customer string) int64 {
	return s.scalar(t, "payments", `SELECT balance_cents FROM tb_account WHERE customer_id = $1`, customer).(int64)
}

func (s *Stack) count(t *testing.T, db, sql string, args ...any) int64 {
	return s.scalar(t, db, sql, args...).(int64)
}

// place runs an order saga through the client library and waits for it.
func (s *Stack) place(t *testing.T, req starter.Request) *starter.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := starter.PlaceOrder(ctx, s.Temporal, req, starter.TaskQueue(s.Config.Temporal.TaskQueue))
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// orderMessage is one message of the ORDERS stream.
type orderMessage struct {
	Subject  string
	MsgID    string
	Envelope events.Envelope
}

// messages returns every message the ORDERS stream holds for an order.
func (s *Stack) messages(t *testing.T, orderID string) []orderMessage {
	t.Helper()
	ctx := context.Background()
	stream, err := s.JetStream.Stream(ctx, "ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(events.SubjectPrefix+orderID+".>"))
	if err != nil {
		t.Fatal(err)
	}
	var out []orderMessage
	for subject, n := range info.State.Subjects {
		if n != 1 {
			t.Errorf("subject %s holds %d messages, want 1", subject, n)
		}
		raw, err := stream.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		m := orderMessage{Subject: subject, MsgID: raw.Header.Get(jetstream.MsgIDHeader)}
		if err := json.Unmarshal(raw.Data, &m.Envelope); err != nil {
			t.Fatalf("message on %s is not a JSON envelope: %v", subject, err)
		}
		out = append(out, m)
	}
	return out
}

// oneEvent asserts the stream holds exactly one event for the order, of the
// given type, and returns it.
func (s *Stack) oneEvent(t *testing.T, orderID, eventType string) events.Envelope {
	t.Helper()
	msgs := s.messages(t, orderID)
	if len(msgs) != 1 {
		t.Fatalf("order %s: %d messages in the stream, want exactly one %s: %+v", orderID, len(msgs), eventType, msgs)
	}
	m := msgs[0]
	ev := m.Envelope
	want := events.Subject(orderID, eventType)
	if m.Subject != want {
		t.Errorf("subject = %s, want %s", m.Subject, want)
	}
	if ev.Type != eventType || ev.SpecVersion != "1.0" || ev.Source != events.Source ||
		ev.Subject != orderID || ev.DataContentType != "application/json" || ev.Time.IsZero() {
		t.Errorf("envelope = %+v, want a CloudEvents 1.0 %s for order %s", ev, eventType, orderID)
	}
	if ev.ID != events.ID(orderID, eventType) || m.MsgID != ev.ID {
		t.Errorf("event id %q, Nats-Msg-Id %q: want both %q", ev.ID, m.MsgID, events.ID(orderID, eventType))
	}
	if ev.Data.OrderID != orderID {
		t.Errorf("data.order_id = %q, want %q", ev.Data.OrderID, orderID)
	}
	return ev
}

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }
