package outbox

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedsaga/fedsaga/federation/pg"
)

// backlog is what the relay last measured of the unpublished rows: how
// many, and how old the oldest was then. It is exported as
// fedsaga_outbox_backlog and fedsaga_outbox_oldest_unpublished_age_seconds;
// the age keeps growing between measurements.
type backlog struct {
	count prometheus.Gauge

	mu       sync.Mutex
	oldest   time.Duration // age of the oldest unpublished row when measured; 0: none
	measured time.Time
}

func newBacklog() *backlog {
	return &backlog{count: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fedsaga_outbox_backlog", Help: "Outbox events not yet published."})}
}

// collectors are the backlog's metrics.
func (b *backlog) collectors() []prometheus.Collector {
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fedsaga_outbox_oldest_unpublished_age_seconds",
		Help: "Age of the oldest outbox event not yet published (tb_outbox.published_at IS NULL); 0 when every event is published.",
	}, b.age)
	return []prometheus.Collector{b.count, age}
}

func (b *backlog) age() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.oldest == 0 {
		return 0
	}
	return (b.oldest + time.Since(b.measured)).Seconds()
}

// measure counts the unpublished rows and the age of the oldest, by the
// database's clock; a failed measurement keeps the last one.
func (b *backlog) measure(ctx context.Context, db *pg.DB) {
	var n int64
	var oldest *float64 // seconds
	err := db.Query(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*),
			(SELECT extract(epoch FROM now() - created_at)::float8 FROM tb_outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1)
			FROM tb_outbox WHERE published_at IS NULL`).Scan(&n, &oldest)
	})
	if err != nil {
		return
	}
	b.count.Set(float64(n))
	b.mu.Lock()
	defer b.mu.Unlock()
	b.oldest, b.measured = 0, time.Now()
	if oldest != nil && n > 0 {
		b.oldest = max(time.Duration(*oldest*float64(time.Second)), time.Nanosecond)
	}
}
