package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/internal/natstest"
	"github.com/fedsaga/fedsaga/starter"
	"github.com/fedsaga/fedsaga/worker"
	"github.com/fedsaga/fedsaga/workflows"
)

// waitPublished waits until the order's outbox rows are all published.
func (s *Stack) waitPublished(t *testing.T, orderID string, d time.Duration) {
	t.Helper()
	waitFor(t, "outbox of "+orderID+" published", d, func() (bool, string) {
		n := s.count(t, "orders", `SELECT count(*) FROM tb_outbox WHERE order_id = $1 AND published_at IS NULL`, orderID)
		return n == 0, fmt.Sprintf("%d unpublished", n)
	})
}

func TestNATSDownWhilePublishing(t *testing.T) {
	s := stack
	p := s.addProduct(t, 100, 10)
	customer := s.addCustomer(t, 10_000)
	orderID := uniq(t, "ord")

	var out *starter.Outcome
	s.restartNATS(t, func() {
		// NATS is down for the whole publish step (3 s in this stack):
		// the saga still completes, its event stays in the outbox.
		out = s.place(t, starter.Request{OrderID: orderID, CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}})
		if out.Status != workflows.Confirmed || out.EventPublished {
			t.Errorf("outcome %+v: want confirmed with the event not yet published", out)
		}
		if n := s.count(t, "orders", `SELECT count(*) FROM tb_outbox WHERE order_id = $1 AND published_at IS NULL`, orderID); n != 1 {
			t.Errorf("unpublished outbox rows = %d, want 1", n)
		}
		time.Sleep(2 * time.Second) // the relay tries, fails, backs off
	})
	// NATS is back: the relay publishes the event, exactly once.
	s.waitPublished(t, orderID, 45*time.Second)
	s.oneEvent(t, orderID, events.TypeConfirmed)
}

// holdOutboxMark makes every UPDATE of the order's outbox rows wait, from
// outside fedsaga: a trigger on tb_outbox takes an advisory lock that the
// test holds. release lets them go; the trigger is dropped when the test
// ends.
func (s *Stack) holdOutboxMark(t *testing.T, orderID string) (release func()) {
	t.Helper()
	ctx := context.Background()
	db, err := s.DBs.DB("orders")
	if err != nil {
		t.Fatal(err)
	}
	holder, err := pgx.ConnectConfig(ctx, db.Pool().Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, orderID); err != nil {
		t.Fatal(err)
	}
	name := pgx.Identifier{strings.ReplaceAll("hold_"+orderID, "-", "_")}.Sanitize()
	literal := "'" + strings.ReplaceAll(orderID, "'", "''") + "'"
	for _, sql := range []string{
		`CREATE FUNCTION ` + name + `() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN PERFORM pg_advisory_xact_lock(hashtext(OLD.order_id)); RETURN NEW; END $$`,
		`CREATE TRIGGER ` + name + ` BEFORE UPDATE ON tb_outbox FOR EACH ROW
		 WHEN (OLD.order_id = ` + literal + `) EXECUTE FUNCTION ` + name + `()`,
	} {
		if _, err := holder.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	released := false
	release = func() {
		if !released {
			released = true
			_, _ = holder.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
		}
	}
	t.Cleanup(func() {
		release()
		_, _ = holder.Exec(ctx, `DROP TRIGGER IF EXISTS `+name+` ON tb_outbox`)
		_, _ = holder.Exec(ctx, `DROP FUNCTION IF EXISTS `+name+`()`)
		holder.Close(ctx)
	})
	return release
}

// markQuery is the start of the statement that marks an outbox row
// published (outbox.MarkPublished, as PublishEvent runs it).
const markQuery = `UPDATE tb_outbox SET published_at = now()`

// waitingMarks counts (and with terminate, terminates) the connections to
// the orders database whose outbox UPDATE waits for a lock.
func (s *Stack) waitingMarks(t *testing.T, query string, terminate bool) int64 {
	t.Helper()
	sql := `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1 || '%'`
	if terminate {
		sql = strings.Replace(sql, "count(*)", "count(*) FILTER (WHERE pg_terminate_backend(pid))", 1)
	}
	return s.count(t, "orders", sql, query)
}

// TestWorkerDiesBetweenAckAndOutboxUpdate: the worker process is killed
// after the stream acknowledged the event and before the outbox row is
// marked published. The fault comes from outside: the test holds the
// outbox UPDATE in the database, sees the message in the stream and the
// UPDATE waiting, then kills the worker and terminates its connection.
func TestWorkerDiesBetweenAckAndOutboxUpdate(t *testing.T) {
	s := stack
	p := s.addProduct(t, 100, 10)
	customer := s.addCustomer(t, 10_000)
	queue := uniq(t, "queue")
	orderID := uniq(t, "ord")
	release := s.holdOutboxMark(t, orderID)

	doomed := exec.Command(fedsagaBin(t), "--config", s.ConfigPath, "worker")
	doomed.Env = append(doomed.Environ(), "FEDSAGA_TEMPORAL__TASK_QUEUE="+queue, "FEDSAGA_EVENTS__RELAY_DELAY=1h")
	if err := doomed.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { doomed.Process.Kill(); doomed.Wait() })
	h := s.start(t, starter.Request{OrderID: orderID, CustomerID: customer, Items: []starter.Item{{SKU: p.SKU, Quantity: 1}}}, queue)
	waitFor(t, "event acknowledged and its outbox update waiting", time.Minute, func() (bool, string) {
		msgs, waiting := len(s.messages(t, orderID)), s.waitingMarks(t, markQuery, false)
		return msgs == 1 && waiting == 1, fmt.Sprintf("%d messages, %d outbox updates waiting", msgs, waiting)
	})
	if err := doomed.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = doomed.Wait()
	// The message is in the stream, the outbox row is not marked; the dead
	// worker's UPDATE never commits.
	if msgs := s.messages(t, orderID); len(msgs) != 1 {
		t.Fatalf("after the crash: %d messages, want 1", len(msgs))
	}
	if n := s.count(t, "orders", `SELECT count(*) FROM tb_outbox WHERE order_id = $1 AND published_at IS NULL`, orderID); n != 1 {
		t.Fatalf("outbox row marked before the crash")
	}
	if n := s.waitingMarks(t, "UPDATE tb_outbox", true); n == 0 {
		t.Fatal("the dead worker's outbox update was not there to terminate")
	}
	release()

	// A new worker takes over the saga; its publish and the relays repeat
	// the event: still one message.
	revived := exec.Command(fedsagaBin(t), "--config", s.ConfigPath, "worker")
	revived.Env = append(revived.Environ(), "FEDSAGA_TEMPORAL__TASK_QUEUE="+queue)
	if err := revived.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { revived.Process.Kill(); revived.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := h.Result(ctx)
	if err != nil || out.Status != workflows.Confirmed {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	s.waitPublished(t, orderID, 30*time.Second)
	s.oneEvent(t, orderID, events.TypeConfirmed)
}

func TestManySagasWithNATSRestarts(t *testing.T) {
	s := stack
	const sagas = 200
	rich := s.addCustomer(t, 100_000_000)
	poor := s.addCustomer(t, 50)
	plenty := s.addProduct(t, 100, 1_000_000)
	scarce := s.addProduct(t, 100, 20)

	type order struct {
		id   string
		want string // expected event type, "" for a refused order
	}
	rng := rand.New(rand.NewPCG(1, 2))
	orders := make([]order, sagas)
	reqs := make([]starter.Request, sagas)
	for i := range orders {
		o := order{id: uniq(t, "ord"), want: events.TypeConfirmed}
		req := starter.Request{OrderID: o.id, CustomerID: rich, Items: []starter.Item{{SKU: plenty.SKU, Quantity: 1}}}
		switch rng.IntN(5) {
		case 0: // insufficient funds
			req.CustomerID, o.want = poor, events.TypeCancelled
		case 1: // perhaps out of stock: decided by the run
			req.Items = []starter.Item{{SKU: scarce.SKU, Quantity: 3}}
			o.want = "?"
		case 2: // unknown product: refused, no event
			req.Items, o.want = []starter.Item{{SKU: "NO-SUCH-" + o.id, Quantity: 1}}, ""
		}
		orders[i], reqs[i] = o, req
	}

	// Place them 20 at a time while NATS restarts three times.
	var wg sync.WaitGroup
	results := make([]*starter.Outcome, sagas)
	sem := make(chan struct{}, 20)
	stopChaos := make(chan struct{})
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		for range 3 {
			select {
			case <-stopChaos:
				return
			case <-time.After(700 * time.Millisecond):
			}
			s.restartNATS(t, func() { time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond) })
		}
	}()
	for i := range reqs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			h, err := starter.PlaceOrder(ctx, s.Temporal, reqs[i], starter.TaskQueue(s.Config.Temporal.TaskQueue))
			if err == nil {
				results[i], err = h.Result(ctx)
			}
			if err != nil {
				t.Errorf("order %s: %v", reqs[i].OrderID, err)
			}
		}()
	}
	wg.Wait()
	close(stopChaos)
	<-chaosDone
	if t.Failed() {
		t.FailNow()
	}

	// Every outbox row gets published; then each finished saga has exactly
	// one message of the type of its outcome, and refused orders none.
	waitFor(t, "outbox drained", 90*time.Second, func() (bool, string) {
		n := s.count(t, "orders", `SELECT count(*) FROM tb_outbox WHERE published_at IS NULL`)
		return n == 0, fmt.Sprintf("%d unpublished", n)
	})
	counts := map[string]int{}
	for i, o := range orders {
		out := results[i]
		want := o.want
		switch {
		case want == "?" && out.Status == workflows.Confirmed:
			want = events.TypeConfirmed
		case want == "?":
			want = events.TypeCancelled
		}
		if want == "" {
			if out.Status != workflows.Cancelled || !strings.Contains(out.Reason, "ForeignKeyError") {
				t.Errorf("order %s: %+v, want refused", o.id, out)
			}
			if msgs := s.messages(t, o.id); len(msgs) != 0 {
				t.Errorf("refused order %s has %d messages", o.id, len(msgs))
			}
			counts["refused"]++
			continue
		}
		if (want == events.TypeConfirmed) != (out.Status == workflows.Confirmed) {
			t.Errorf("order %s: outcome %+v, expected %s", o.id, out, want)
			continue
		}
		s.oneEvent(t, o.id, want)
		counts[want]++
	}
	t.Logf("sagas: %v", counts)
	if counts[events.TypeConfirmed] == 0 || counts[events.TypeCancelled] == 0 || counts["refused"] == 0 {
		t.Errorf("the mix did not cover every outcome: %v", counts)
	}
	// Per order, the stream holds the events in outbox order.
	s.checkStreamOrder(t)
}

// checkStreamOrder checks that, per order, the stream's sequence follows
// the outbox's.
func (s *Stack) checkStreamOrder(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	rows, err := s.pool(t, "orders").Query(ctx, `SELECT order_id, subject FROM tb_outbox ORDER BY order_id, seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stream, err := s.JetStream.Stream(ctx, config.OrdersStream)
	if err != nil {
		t.Fatal(err)
	}
	lastOrder, lastSeq := "", uint64(0)
	for rows.Next() {
		var orderID, subject string
		if err := rows.Scan(&orderID, &subject); err != nil {
			t.Fatal(err)
		}
		msg, err := stream.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			t.Errorf("outbox event on %s is not in the stream: %v", subject, err)
			continue
		}
		if orderID == lastOrder && msg.Sequence < lastSeq {
			t.Errorf("order %s: event on %s stored before the one written before it", orderID, subject)
		}
		lastOrder, lastSeq = orderID, msg.Sequence
	}
}

func TestWrongNATSCredentials(t *testing.T) {
	userServer := natstest.StartOptions(t, &server.Options{Username: "fedsaga", Password: "right-pass"})
	tokenServer := natstest.StartOptions(t, &server.Options{Authorization: "right-token"})

	for _, tc := range []struct {
		name, secret string
		env          []string
		auth         config.NATSAuth
		url          string
	}{
		{"user_password", "wr0ng-pass", []string{"FEDSAGA_NATS__AUTH__TYPE=user_password", "FEDSAGA_NATS__AUTH__USER=fedsaga", "FEDSAGA_NATS__AUTH__PASSWORD=wr0ng-pass"},
			config.NATSAuth{Type: config.AuthUserPassword, User: "fedsaga", Password: "right-pass"}, userServer.ClientURL()},
		{"token", "wr0ng-token", []string{"FEDSAGA_NATS__AUTH__TYPE=token", "FEDSAGA_NATS__AUTH__TOKEN=wr0ng-token"},
			config.NATSAuth{Type: config.AuthToken, Token: "right-token"}, tokenServer.ClientURL()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fedsaga(t, append(tc.env, "FEDSAGA_NATS__URL="+tc.url), "worker")
			all := r.stdout + r.stderr
			if r.code == 0 || !strings.Contains(all, "auth "+tc.name) || !strings.Contains(all, "refused the credentials") {
				t.Errorf("worker with wrong credentials: exit %d\n%s", r.code, all)
			}
			if strings.Contains(all, tc.secret) {
				t.Errorf("the secret %q is printed:\n%s", tc.secret, all)
			}
			// The right credentials connect.
			nc, err := worker.ConnectNATS(config.NATS{URL: tc.url, Auth: tc.auth}, zerolog.Nop())
			if err != nil {
				t.Fatalf("right credentials: %v", err)
			}
			nc.Close()
		})
	}
}

func TestStreamsFromConfig(t *testing.T) {
	ctx := context.Background()
	js := stack.JetStream
	name := strings.ToUpper(strings.ReplaceAll(uniq(t, "AUDIT"), "-", "_"))
	cfg := config.JetStream{Streams: map[string]config.Stream{name: {
		Subjects: []string{"audit." + name + ".>"}, Retention: "limits", Replicas: 1, MaxMsgs: 100, MaxBytes: -1, DuplicateWindow: time.Minute,
	}}}
	t.Cleanup(func() { js.DeleteStream(context.Background(), name) })

	// Not managed: a missing stream is a start-up error naming it.
	err := worker.EnsureStreams(ctx, js, cfg, zerolog.Nop())
	var nf *worker.StreamNotFoundError
	if !errorsAs(err, &nf) || nf.Stream != name || !strings.Contains(err.Error(), "manage_streams") {
		t.Fatalf("missing stream, unmanaged: %v", err)
	}
	// Managed: created, then updated when the configuration changes.
	cfg.ManageStreams = true
	if err := worker.EnsureStreams(ctx, js, cfg, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	st := cfg.Streams[name]
	st.MaxMsgs = 200
	cfg.Streams[name] = st
	if err := worker.EnsureStreams(ctx, js, cfg, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, name)
	if err != nil || info.CachedInfo().Config.MaxMsgs != 200 {
		t.Fatalf("stream not updated: %v", err)
	}
	// Not managed and different: the error names the difference.
	cfg.ManageStreams = false
	st.MaxMsgs = 300
	cfg.Streams[name] = st
	err = worker.EnsureStreams(ctx, js, cfg, zerolog.Nop())
	if !errorsAs(err, &nf) || !strings.Contains(err.Error(), "max_msgs is 200, configured 300") {
		t.Errorf("different stream, unmanaged: %v", err)
	}
}
