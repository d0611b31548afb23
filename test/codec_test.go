package test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/fedsaga/fedsaga/codec"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/workflows"
)

// rawHistory reads a saga's history straight from the frontend
// (WorkflowService), as anyone with read access to the namespace sees it:
// no data converter, no codec.
func (s *Stack) rawHistory(t *testing.T, orderID string) *historypb.History {
	t.Helper()
	hist := &historypb.History{}
	var token []byte
	for {
		resp, err := s.Temporal.WorkflowService().GetWorkflowExecutionHistory(context.Background(),
			&workflowservice.GetWorkflowExecutionHistoryRequest{
				Namespace:     s.Config.Temporal.Namespace,
				Execution:     &commonpb.WorkflowExecution{WorkflowId: workflows.OrderWorkflowID(orderID)},
				NextPageToken: token,
			})
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, resp.GetHistory().GetEvents()...)
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return hist
		}
	}
}

// payloads calls fn with every Payload in m, and whether it belongs to
// search attributes (which Temporal indexes, unencrypted).
func payloads(m protoreflect.Message, inSearch bool, fn func(p *commonpb.Payload, search bool)) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		fn(p, inSearch)
		return
	}
	_, isSearch := m.Interface().(*commonpb.SearchAttributes)
	inSearch = inSearch || isSearch
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				payloads(v.List().Get(i).Message(), inSearch, fn)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				payloads(mv.Message(), inSearch, fn)
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			payloads(v.Message(), inSearch, fn)
		}
		return true
	})
}

// TestPayloadsEncrypted: with [codec] enabled, a saga's history holds
// ciphertext: no payload outside the search attributes is readable, the
// customer id and the SKUs appear nowhere in the raw history, and the
// CustomerId search attribute holds the keyed hash. The client, the
// codec server and the replayer decode it with the keyring; `saga list
// --customer` finds the saga through the hash.
func TestPayloadsEncrypted(t *testing.T) {
	s := stack
	p := s.addProduct(t, 1999, 10)
	customer := s.addCustomer(t, 100_000)
	orderID := uniq(t, "ord")
	key, err := codec.ReadKey("codec.customer_id_key", s.Config.Codec.CustomerIDKey)
	if err != nil {
		t.Fatal(err)
	}
	attr := starter.CustomerAttribute{Mode: starter.CustomerHash, Key: key}
	hash, _, _ := attr.Value(customer)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := starter.PlaceOrder(ctx, s.Temporal, starter.Request{OrderID: orderID, CustomerID: customer,
		Items: []starter.Item{{SKU: p.SKU, Quantity: 2}}}, starter.TaskQueue(s.Config.Temporal.TaskQueue), starter.Customer(attr))
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Result(ctx) // decoded by the client's codec
	if err != nil || out.Status != workflows.Confirmed || out.OrderID != orderID {
		t.Fatalf("outcome %+v, %v; want confirmed", out, err)
	}

	hist := s.rawHistory(t, orderID)
	raw, err := proto.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{customer, p.SKU} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the raw history holds %q in plaintext", secret)
		}
	}
	var encrypted int
	var input *commonpb.Payload
	var customerAttr string
	for _, ev := range hist.Events {
		payloads(ev.ProtoReflect(), false, func(pl *commonpb.Payload, search bool) {
			enc := string(pl.GetMetadata()[converter.MetadataEncoding])
			switch {
			case search:
				if string(pl.GetData()) == `"`+hash+`"` {
					customerAttr = hash
				}
			case enc != codec.Encoding || string(pl.GetMetadata()[codec.MetadataKeyID]) != testKeyID:
				t.Errorf("event %d (%s): payload with metadata %q is not encrypted with %s", ev.EventId, ev.EventType, pl.GetMetadata(), testKeyID)
			default:
				encrypted++
			}
		})
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			input = a.GetInput().GetPayloads()[0]
		}
	}
	if encrypted < 10 || customerAttr != hash {
		t.Errorf("%d encrypted payloads (want the input, results, summaries...), CustomerId %q (want the hash %s)", encrypted, customerAttr, hash)
	}

	// The codec server, as the Web UI calls it, decrypts the input.
	c, err := codec.Load(s.Config.Codec)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(codec.Handler(c, codec.HandlerOptions{Namespace: s.Config.Temporal.Namespace,
		Origins: s.Config.Codec.CORSOrigins, Logger: zerolog.Nop()}))
	defer srv.Close()
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{input}})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
	req.Header.Set(codec.HeaderNamespace, s.Config.Temporal.Namespace)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var decoded commonpb.Payloads
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err := protojson.Unmarshal(buf.Bytes(), &decoded); err != nil || len(decoded.Payloads) != 1 ||
		!strings.Contains(string(decoded.Payloads[0].GetData()), customer) {
		t.Errorf("codec server /decode: %d %s; want the input with the customer id", resp.StatusCode, buf.String())
	}

	s.replay(t, "happy_encrypted", orderID)

	// saga list --customer hashes as the starter did; visibility lags a little.
	env := []string{"FEDSAGA_CODEC__CUSTOMER_ID_ATTRIBUTE=hash"}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := fedsaga(t, env, "saga", "list", "--customer", customer, "--output", "json")
		var list []starter.Summary
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil {
			t.Fatalf("saga list --customer: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		if len(list) == 1 && list[0].OrderID == orderID && list[0].CustomerID == hash {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("saga list --customer %s: %+v; want order %s with CustomerId %s", customer, list, orderID, hash)
		}
	}
}
