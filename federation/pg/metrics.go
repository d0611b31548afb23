package pg

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is how the registry's metrics are registered, all at once:
// per database, the histogram fedsaga_database_query_seconds of its query
// latency and the statistics fedsaga_database_pool_* of each pool, pool
// "main" (the saga's writes) or "read-<timeout>" (federated reads).
func (r *Registry) Collector() prometheus.Collector { return collector{r} }

type collector struct{ r *Registry }

var (
	label       = []string{"database", "pool"}
	descActive  = prometheus.NewDesc("fedsaga_database_pool_active", "Connections in use.", label, nil)
	descIdle    = prometheus.NewDesc("fedsaga_database_pool_idle", "Idle connections.", label, nil)
	descTotal   = prometheus.NewDesc("fedsaga_database_pool_total", "Open connections.", label, nil)
	descMax     = prometheus.NewDesc("fedsaga_database_pool_max", "Most connections the pool opens (pool_size).", label, nil)
	descAcquire = prometheus.NewDesc("fedsaga_database_pool_acquire_total", "Connections acquired from the pool.", label, nil)
	descEmpty   = prometheus.NewDesc("fedsaga_database_pool_empty_acquire_total", "Acquires that had to wait for a connection.", label, nil)
	descWait    = prometheus.NewDesc("fedsaga_database_pool_empty_acquire_wait_seconds_total", "Time spent waiting for a connection when the pool was empty.", label, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	c.r.latency.Describe(ch)
	for _, d := range []*prometheus.Desc{descActive, descIdle, descTotal, descMax, descAcquire, descEmpty, descWait} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.r.latency.Collect(ch)
	for _, name := range c.r.Names() {
		db := c.r.dbs[name]
		db.mu.Lock()
		for label, p := range db.pools {
			collectPool(ch, p, name, label)
		}
		db.mu.Unlock()
	}
}

func collectPool(ch chan<- prometheus.Metric, p *pgxpool.Pool, db, pool string) {
	st := p.Stat()
	ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(st.AcquiredConns()), db, pool)
	ch <- prometheus.MustNewConstMetric(descIdle, prometheus.GaugeValue, float64(st.IdleConns()), db, pool)
	ch <- prometheus.MustNewConstMetric(descTotal, prometheus.GaugeValue, float64(st.TotalConns()), db, pool)
	ch <- prometheus.MustNewConstMetric(descMax, prometheus.GaugeValue, float64(st.MaxConns()), db, pool)
	ch <- prometheus.MustNewConstMetric(descAcquire, prometheus.CounterValue, float64(st.AcquireCount()), db, pool)
	ch <- prometheus.MustNewConstMetric(descEmpty, prometheus.CounterValue, float64(st.EmptyAcquireCount()), db, pool)
	ch <- prometheus.MustNewConstMetric(descWait, prometheus.CounterValue, st.EmptyAcquireWaitTime().Seconds(), db, pool)
}
