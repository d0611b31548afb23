// Package worker wires and runs a fedsaga worker process: database pools,
// NATS and its streams, the Temporal client, and the order saga's workflow
// and activities on the configured task queue. Workers are stateless: any
// number of them may poll one task queue.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fedsaga/fedsaga/activities"
	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/migrations"
	"github.com/fedsaga/fedsaga/outbox"
	"github.com/fedsaga/fedsaga/server"
	"github.com/fedsaga/fedsaga/workflows"
)

// Worker is a running fedsaga worker's dependencies.
type Worker struct {
	cfg      *config.Config
	logger   zerolog.Logger
	dbs      *pg.Registry
	nc       *nats.Conn
	temporal client.Client
	worker   tworker.Worker
	probes   *probes
	fatal    chan error
	relay    *outbox.Relay
	observe  []outbox.Observer
	mover    *consumer.Mover // moves dead letters; nil without the advisory stream
	metrics  io.Closer       // the SDK's metrics reporting
}

// New connects to the databases, NATS (creating missing streams) and
// Temporal, and registers the workflow and activities. Close releases what
// New opened, also when New fails halfway.
func New(ctx context.Context, cfg *config.Config, logger zerolog.Logger) (_ *Worker, err error) {
	w := &Worker{cfg: cfg, logger: logger, fatal: make(chan error, 1)}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	if w.dbs, err = pg.Open(cfg.Databases, logger, pg.WithTracing(cfg.Telemetry.Enabled)); err != nil {
		return nil, err
	}
	reg := server.Metrics(w.dbs)
	if cfg.Worker.HTTPAddress != "" {
		if w.probes, err = newProbes(cfg.Worker.HTTPAddress, cfg.Worker.Pprof, reg, logger); err != nil {
			return nil, err
		}
	}
	if w.nc, err = ConnectNATS(cfg.NATS, logger); err != nil {
		return nil, err
	}
	js, err := jetstream.New(w.nc, jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	if err = EnsureStreams(ctx, js, cfg.NATS.JetStream, logger); err != nil {
		return nil, err
	}
	if w.mover, err = newMover(ctx, cfg.NATS.JetStream, js, logger); err != nil {
		return nil, err
	}
	if _, err = consumer.Ensure(ctx, js, consumer.Specs(cfg), cfg.NATS.JetStream.ManageStreams, logger); err != nil {
		return nil, err
	}
	reg.MustRegister(consumer.NewCollector(js, consumer.Specs(cfg), logger))
	if _, ok := cfg.NATS.JetStream.Streams[config.DeadLetterStream]; ok {
		reg.MustRegister(consumer.NewDeadLetterCollector(js, config.DeadLetterStream, logger))
	}
	acts, err := activities.New(w.dbs, cfg.Federation, js)
	if err != nil {
		return nil, err
	}
	if err = checkSchemas(ctx, acts, logger); err != nil {
		return nil, err
	}
	if cfg.Saga.NotifySteps {
		acts.StepChannel = cfg.Saga.NotifyChannel
	}
	acts.Partitions = cfg.NATS.Partitions.Count
	w.relay = outbox.NewRelay(acts.Orders, js, outbox.RelayOptions{
		Delay: cfg.Events.RelayDelay, Poll: cfg.Events.RelayPoll, Batch: cfg.Events.RelayBatch,
		Partitions: cfg.NATS.Partitions.Count,
	}, reg, logger)
	for _, o := range cfg.Observers {
		db, err := w.dbs.DB(o.Database)
		if err != nil {
			return nil, err
		}
		w.observe = append(w.observe, outbox.Observer{DB: db, Channel: o.Channel, Subject: o.NATSSubject})
	}
	sdkMetrics, closer := NewMetricsHandler(reg, logger)
	w.metrics = closer
	if w.temporal, err = DialTemporal(ctx, cfg, logger, WithMetrics(sdkMetrics)); err != nil {
		return nil, err
	}
	reg.MustRegister(&CompensationFailed{Client: w.temporal, Namespace: cfg.Temporal.Namespace,
		TaskQueue: cfg.Temporal.TaskQueue, Types: []string{workflows.PlaceOrderName}, Logger: logger})
	added, err := EnsureSearchAttributes(ctx, w.temporal, cfg.Temporal.Namespace, cfg.Temporal.ManageSearchAttributes)
	if err != nil {
		return nil, err
	}
	if len(added) > 0 {
		logger.Info().Strs("search_attributes", added).Msg("search attributes registered")
	}
	warnSlots(cfg, logger)
	opts := Options(cfg.Worker)
	opts.OnFatalError = func(err error) {
		w.probes.setReady(false, "fatal: "+err.Error())
		select {
		case w.fatal <- err:
		default:
		}
	}
	w.worker = tworker.New(w.temporal, cfg.Temporal.TaskQueue, opts)
	Register(w.worker, acts, Settings(cfg.Saga, cfg.Events))
	return w, nil
}

// Register registers the order saga and its activities on a Temporal worker.
func Register(r tworker.Registry, acts *activities.Activities, settings workflows.Settings) {
	orders := &workflows.Orders{Settings: settings}
	r.RegisterWorkflowWithOptions(orders.PlaceOrder, workflow.RegisterOptions{Name: workflows.PlaceOrderName})
	for name, fn := range map[string]any{
		spec.Validate:         acts.Validate,
		spec.CreateOrder:      acts.CreateOrder,
		spec.CancelOrder:      acts.CancelOrder,
		spec.ReserveInventory: acts.ReserveInventory,
		spec.ReleaseInventory: acts.ReleaseInventory,
		spec.ChargePayment:    acts.ChargePayment,
		spec.RefundPayment:    acts.RefundPayment,
		spec.ConfirmOrder:     acts.ConfirmOrder,
		spec.VoidConfirm:      acts.VoidConfirm,
		spec.PublishEvent:     acts.PublishEvent,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// Run polls the task queue until ctx is done, then stops gracefully: it
// waits up to worker.stop_timeout for running activities. A fatal worker
// error (the namespace is gone, say) ends Run with that error.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.worker.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %s: %w", w.cfg.Temporal.TaskQueue, err)
	}
	w.probes.setReady(true, "")
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Go(func() { w.relay.Run(bgCtx) })
	for _, o := range w.observe {
		bg.Go(func() { o.Run(bgCtx, w.nc, w.logger) })
	}
	if w.mover != nil {
		bg.Go(func() { w.mover.Run(bgCtx) })
	}
	w.logger.Info().
		Str("task_queue", w.cfg.Temporal.TaskQueue).
		Str("temporal", w.cfg.Temporal.Address).
		Str("namespace", w.cfg.Temporal.Namespace).
		Msg("worker started")
	var err error
	select {
	case <-ctx.Done():
	case err = <-w.fatal:
		w.logger.Error().Err(err).Msg("worker failed")
	}
	w.probes.setReady(false, "stopping")
	w.logger.Info().Dur("stop_timeout", w.cfg.Worker.StopTimeout).Msg("worker stopping")
	w.worker.Stop()
	stopBackground()
	bg.Wait()
	w.logger.Info().Msg("worker stopped")
	return err
}

// Client is the worker's Temporal client. A service that embeds the worker
// starts its sagas through it with starter.Eager(): the server hands the
// first workflow task of each straight to this worker.
func (w *Worker) Client() client.Client { return w.temporal }

// HTTPAddress is where the worker serves /healthz, /readyz and /metrics;
// "" when worker.http_address is off.
func (w *Worker) HTTPAddress() string { return w.probes.Addr() }

// Close releases the connections.
func (w *Worker) Close() {
	w.probes.close()
	if w.temporal != nil {
		w.temporal.Close()
	}
	if w.metrics != nil {
		_ = w.metrics.Close()
	}
	if w.nc != nil {
		if err := w.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			w.nc.Close()
		}
	}
	if w.dbs != nil {
		w.dbs.Close()
	}
}

// checkSchemas refuses to start on a database whose schema is older than
// this fedsaga's activities need (`fedsaga migrate` not run since an
// upgrade): every step using what the missing migrations add would fail
// and retry until its saga compensates. A database that cannot be reached
// now is logged and left to the activities' retries, as before.
func checkSchemas(ctx context.Context, acts *activities.Activities, logger zerolog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, db := range []*pg.DB{acts.Orders, acts.Inventory, acts.Payments} {
		err := migrations.Check(ctx, db.Name, db.Pool())
		var behind *migrations.BehindError
		switch {
		case errors.As(err, &behind):
			return err
		case err != nil:
			logger.Warn().Err(err).Str("database", db.Name).Msg("schema version not checked")
		}
	}
	return nil
}
