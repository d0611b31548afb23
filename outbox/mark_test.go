package outbox_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/outbox"
)

// TestMarkPublishedCommitsWithoutFlush: the mark turns synchronous_commit
// off for its own transaction and no longer (the pooled connection keeps
// the server's setting), marks the rows given and leaves a marked row's
// time as it was.
func TestMarkPublishedCommitsWithoutFlush(t *testing.T) {
	db := ordersDB(t)
	ctx := context.Background()
	a, b := event(t, "ord-mark-a", events.TypeConfirmed), event(t, "ord-mark-b", events.TypeConfirmed)
	insert(t, db, 0, a, b)

	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	setting := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) string {
		t.Helper()
		var s string
		if err := q.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	server := setting(conn)
	if server == "off" {
		t.Fatalf("this PostgreSQL runs with synchronous_commit off: the test cannot tell")
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := outbox.MarkPublished(ctx, tx, a.id); n != 1 || err != nil {
		t.Fatalf("MarkPublished in a transaction: %d rows, %v; want 1", n, err)
	}
	if s := setting(tx); s != "off" {
		t.Errorf("synchronous_commit in the mark's transaction: %q, want off", s)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if s := setting(conn); s != server {
		t.Errorf("synchronous_commit after the mark's transaction: %q, want the server's %q", s, server)
	}

	var before time.Time
	if err := conn.QueryRow(ctx, `SELECT published_at FROM tb_outbox WHERE id = $1`, a.id).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if n, err := outbox.MarkPublished(ctx, conn, a.id, b.id); n != 1 || err != nil {
		t.Fatalf("MarkPublished of a marked and an unmarked row: %d rows, %v; want 1", n, err)
	}
	if s := setting(conn); s != server {
		t.Errorf("synchronous_commit after a mark in its own transaction: %q, want the server's %q", s, server)
	}
	var after time.Time
	if err := conn.QueryRow(ctx, `SELECT published_at FROM tb_outbox WHERE id = $1`, a.id).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if !after.Equal(before) {
		t.Errorf("a marked row was marked again: published_at %s, then %s", before, after)
	}
	if n := unpublished(t, db); n != 0 {
		t.Errorf("%d rows left unpublished, want 0", n)
	}
}

// BenchmarkMarkPublished marks one outbox row published, as the saga's
// publish step does, with MarkPublished and with the same UPDATE
// committed with the WAL flush (the server's synchronous_commit),
// alternating the two so that the machine's load weighs on both alike. It
// reports each one's p50 and their ratio (async ÷ flushed).
//
//	go test ./outbox -run '^$' -bench MarkPublished -benchtime 500x -count 3
func BenchmarkMarkPublished(b *testing.B) {
	db := ordersDB(b)
	ctx := context.Background()
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	// marks[0] commits with the flush, marks[1] is MarkPublished.
	marks := [2]func(*pgxpool.Conn, string) error{
		func(c *pgxpool.Conn, id string) error {
			_, err := c.Exec(ctx, `UPDATE tb_outbox SET published_at = now() WHERE id = ANY($1) AND published_at IS NULL`, []string{id})
			return err
		},
		func(c *pgxpool.Conn, id string) error {
			_, err := outbox.MarkPublished(ctx, c, id)
			return err
		},
	}
	var took [2][]time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		ev := event(b, fmt.Sprintf("ord-bench-mark-%d", i), events.TypeConfirmed)
		insert(b, db, 0, ev)
		b.StartTimer()
		k := i % 2
		start := time.Now()
		if err := marks[k](conn, ev.id); err != nil {
			b.Fatal(err)
		}
		took[k] = append(took[k], time.Since(start))
	}
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2]) / float64(time.Millisecond)
	}
	if b.N >= 2 {
		f, a := p50(took[0]), p50(took[1])
		b.ReportMetric(f, "flushed-p50-ms")
		b.ReportMetric(a, "async-p50-ms")
		b.ReportMetric(a/f, "async/flushed")
	}
}
