package events_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/events"
)

func TestIDIsDeterministicPerOrderAndType(t *testing.T) {
	a := events.ID("ord-1001", events.TypeConfirmed)
	if a != events.ID("ord-1001", events.TypeConfirmed) {
		t.Error("ID differs between two calls")
	}
	// Ids of events already in streams must never change: this one is
	// also the README's example.
	if a != "897ee803-cede-5b07-9ddc-00f995103667" {
		t.Errorf("ID(ord-1001, confirmed) = %s, want 897ee803-cede-5b07-9ddc-00f995103667", a)
	}
	for _, other := range []string{events.ID("ord-1001", events.TypeCancelled), events.ID("ord-1002", events.TypeConfirmed)} {
		if other == a {
			t.Errorf("two events share the id %s", a)
		}
	}
}

func TestSubject(t *testing.T) {
	for typ, want := range map[string]string{
		events.TypeConfirmed: "fedsaga.order.ord-1.confirmed",
		events.TypeCancelled: "fedsaga.order.ord-1.cancelled",
	} {
		if got := events.Subject("ord-1", typ); got != want {
			t.Errorf("Subject(ord-1, %s) = %s, want %s", typ, got, want)
		}
		if !strings.HasPrefix(events.Subject("*", typ), events.SubjectPrefix) {
			t.Errorf("Subject does not start with SubjectPrefix")
		}
	}
}

func TestCheckType(t *testing.T) {
	for _, typ := range events.Types {
		if err := events.CheckType(typ); err != nil {
			t.Errorf("CheckType(%s): %v", typ, err)
		}
	}
	err := events.CheckType("order.shipped")
	var te *events.TypeError
	if !errors.As(err, &te) || te.Type != "order.shipped" ||
		err.Error() != `event type "order.shipped": want order.confirmed or order.cancelled` {
		t.Errorf("CheckType(order.shipped) = %v", err)
	}
}

// readmeEnvelope is the example envelope of the README's event contract.
func readmeEnvelope(t testing.TB) []byte {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "body: a CloudEvents 1.0 JSON envelope")
	_, rest, ok2 := strings.Cut(rest, "```json\n")
	block, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no example envelope after \"body: a CloudEvents 1.0 JSON envelope\"")
	}
	return []byte(block)
}

// TestEnvelopeMatchesTheREADME: New builds, field for field, the envelope
// the README documents, and the JSON reads back into the same value.
func TestEnvelopeMatchesTheREADME(t *testing.T) {
	at := time.Date(2026, 11, 28, 18, 24, 56, 123456000, time.FixedZone("CET", 3600))
	ev := events.New(events.TypeConfirmed, at, events.Order{
		OrderID: "ord-1001", CustomerID: "alice", Status: "confirmed", TotalCents: 8997,
		Items: []events.Item{
			{ProductID: "prod-gadget", SKU: "GADGET", Name: "Gadget", Quantity: 1, PriceCents: 4999},
			{ProductID: "prod-widget", SKU: "WIDGET", Name: "Widget", Quantity: 2, PriceCents: 1999},
		},
	})
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(readmeEnvelope(t), &want); err != nil {
		t.Fatalf("README envelope: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("envelope\n%s\ndiffers from the README's\n%s", data, readmeEnvelope(t))
	}
	var back events.Envelope
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, ev) {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, ev)
	}
}

func TestCancelledEnvelopeCarriesTheReason(t *testing.T) {
	ev := events.New(events.TypeCancelled, time.Now(), events.Order{OrderID: "ord-1", Status: "cancelled", Reason: "InsufficientFundsError"})
	data, _ := json.Marshal(ev)
	var m struct{ Data map[string]any }
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Data["reason"] != "InsufficientFundsError" || m.Data["status"] != "cancelled" {
		t.Errorf("cancelled event data %v", m.Data)
	}
	if ev.ID != events.ID("ord-1", events.TypeCancelled) || ev.Subject != "ord-1" || ev.Source != events.Source {
		t.Errorf("envelope %+v", ev)
	}
	confirmed, _ := json.Marshal(events.New(events.TypeConfirmed, time.Now(), events.Order{OrderID: "ord-1"}))
	if strings.Contains(string(confirmed), `"reason"`) {
		t.Errorf("an event without a reason has the key: %s", confirmed)
	}
}
