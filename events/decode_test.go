package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/events"
)

func validEvent(t testing.TB) []byte {
	t.Helper()
	data, err := json.Marshal(events.New(events.TypeConfirmed, time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC), events.Order{
		OrderID: "ord-1", CustomerID: "alice", Status: "confirmed", TotalCents: 100,
		Items: []events.Item{{ProductID: "p1", SKU: "W", Name: "Widget", Quantity: 1, PriceCents: 100}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecode(t *testing.T) {
	ev, err := events.Decode(validEvent(t))
	if err != nil || ev.Data.OrderID != "ord-1" || ev.Type != events.TypeConfirmed {
		t.Fatalf("Decode(valid event) = %+v, %v", ev, err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(validEvent(t), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		data, _ := json.Marshal(m)
		return data
	}
	for name, tc := range map[string]struct {
		data  []byte
		field string
	}{
		"not JSON":           {[]byte("hello"), ""},
		"JSON array":         {[]byte("[1]"), ""},
		"truncated":          {validEvent(t)[:40], ""},
		"quantity as string": {[]byte(strings.Replace(string(validEvent(t)), `"quantity":1`, `"quantity":"1"`, 1)), ""},
		"no id":              {edit(func(m map[string]any) { delete(m, "id") }), "id"},
		"unknown type":       {edit(func(m map[string]any) { m["type"] = "order.shipped" }), "type"},
		"other specversion":  {edit(func(m map[string]any) { m["specversion"] = "0.3" }), "specversion"},
		"no order id":        {edit(func(m map[string]any) { m["data"] = map[string]any{} }), "data.order_id"},
		"subject differs":    {edit(func(m map[string]any) { m["subject"] = "ord-2" }), "subject"},
	} {
		_, err := events.Decode(tc.data)
		var de *events.DecodeError
		if !errors.As(err, &de) || de.Field != tc.field {
			t.Errorf("%s: Decode = %v; want a *DecodeError on %q", name, err, tc.field)
		}
	}
	var te *events.TypeError
	_, err = events.Decode(edit(func(m map[string]any) { m["type"] = "order.shipped" }))
	if !errors.As(err, &te) {
		t.Errorf("unknown type: %v; want it to wrap an *events.TypeError", err)
	}
}

// FuzzDecodeEvent: Decode never panics; what it refuses is a *DecodeError
// with a bounded message; what it accepts is an order event that encodes
// and decodes back to itself.
func FuzzDecodeEvent(f *testing.F) {
	f.Add(validEvent(f))
	f.Add(readmeEnvelope(f))
	for _, seed := range []string{
		"", "null", "{}", "[]", `"x"`, "hello", `{"specversion":"1.0"}`,
		`{"specversion":"1.0","id":"x","type":"order.confirmed","subject":"o","data":{"order_id":"o"}}`,
		`{"specversion":"1.0","id":"x","type":"order.shipped","subject":"o","data":{"order_id":"o"}}`,
		`{"specversion":"1.0","id":"x","type":"order.confirmed","subject":"o","data":{"order_id":"o","items":[{"quantity":1e30}]}}`,
		`{"specversion":"1.0","id":"x","type":"order.confirmed","time":"not a time","subject":"o","data":{"order_id":"o"}}`,
		"{\"id\":\"\xff\"}", `{"data":{"total_cents":-1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := events.Decode(data)
		if err != nil {
			var de *events.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(%q) = %v; want a *DecodeError", data, err)
			}
			if len(err.Error()) > 600 {
				t.Errorf("Decode(%q): error of %d bytes", data, len(err.Error()))
			}
			return
		}
		if ev.ID == "" || events.CheckType(ev.Type) != nil || ev.Data.OrderID == "" {
			t.Fatalf("Decode(%q) accepted %+v", data, ev)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("Decode(%q) = %+v, which does not encode: %v", data, ev, err)
		}
		back, err := events.Decode(again)
		if err != nil || !reflect.DeepEqual(back, ev) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", data, back, err, ev)
		}
	})
}
