package config

import "time"

// Default returns the default configuration, the one place where the
// defaults documented on each field are set. It has no databases (they have
// no default URL): a valid configuration adds the RequiredDatabases.
func Default() *Config {
	orders := DefaultStream()
	orders.Subjects = []string{"fedsaga.order.>"}
	return &Config{
		Log: Log{Level: "info", Format: "auto"},
		Temporal: Temporal{Address: "127.0.0.1:7233", Namespace: "default", TaskQueue: "fedsaga-orders",
			ManageSearchAttributes: true, GRPCCompression: CompressionGzip},
		Databases: map[string]Database{},
		Federation: Federation{
			BatchSize:        1000,
			DefaultTimeout:   5 * time.Second,
			DatabaseTimeouts: map[string]time.Duration{},
			HTTPAddress:      "127.0.0.1:8080",
			DefaultPageSize:  50,
			MaxPageSize:      1000,
			Relations: map[string]Relation{
				"items":        {From: "order", To: "item"},
				"product":      {From: "item", To: "product"},
				"reservations": {From: "order", To: "reservation"},
				"payment":      {From: "order", To: "payment"},
			},
			API: ReadAPI{Auth: APIAuthRequired, Tokens: []Secret{}, MetricsAddress: "127.0.0.1:9465", MaxIDs: 100, MaxIDLength: 128,
				ReadTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second, WriteTimeout: 30 * time.Second,
				GraphQL: DefaultGraphQL()},
		},
		Saga: Saga{Timeout: 5 * time.Minute, CompensationTimeout: 10 * time.Minute, Mode: ModeRegular,
			NotifyChannel: DefaultNotifyChannel},
		NATS: NATS{
			URL:  "nats://127.0.0.1:4222",
			Auth: NATSAuth{Type: AuthNone},
			JetStream: JetStream{ManageStreams: true, Streams: map[string]Stream{OrdersStream: orders,
				DeadLetterStream: deadLetterStream(), AdvisoryStream: advisoryStream()}, Consumers: map[string]Consumer{}},
		},
		Events: Events{
			PublishTimeout: 2 * time.Minute,
			RelayDelay:     5 * time.Second,
			RelayPoll:      5 * time.Second,
			RelayBatch:     500,
		},
		Worker: Worker{StopTimeout: 30 * time.Second, HTTPAddress: ":9464",
			MaxConcurrentWorkflowTasks: 1000, WorkflowTaskPollers: 100, ActivityTaskPollers: 100},
		Codec:     DefaultCodec(),
		Telemetry: DefaultTelemetry(),
	}
}

// SagaPoolSize is the smallest pool_size of the databases the saga's
// activities write (RequiredDatabases), 0 when none is configured. It is
// the default of worker.max_concurrent_activities and
// worker.max_concurrent_local_activities: with no more slots than that, no
// activity of one worker process waits for a connection of those pools.
func (c *Config) SagaPoolSize() int {
	smallest := 0
	for _, name := range RequiredDatabases {
		if db, ok := c.Databases[name]; ok && (smallest == 0 || int(db.PoolSize) < smallest) {
			smallest = int(db.PoolSize)
		}
	}
	return smallest
}

// deriveSlots sets the activity slots left at 0 to SagaPoolSize.
func (c *Config) deriveSlots() {
	for _, slots := range []*int{&c.Worker.MaxConcurrentActivities, &c.Worker.MaxConcurrentLocalActivities} {
		if *slots == 0 {
			*slots = c.SagaPoolSize()
		}
	}
}

// DefaultDatabase returns the defaults of every database, whatever its
// name; Load applies them to each database that appears in the file or the
// environment. The URL has no default.
func DefaultDatabase() Database {
	return Database{
		PoolSize:         10,
		PoolTimeout:      5 * time.Second,
		IdleMaxAge:       5 * time.Minute,
		StatementTimeout: 5 * time.Second,
		LogSlowQueries:   200 * time.Millisecond,
	}
}

// DefaultStream returns the defaults of every JetStream stream, whatever its
// name, which Load applies to each stream. Subjects have no default (but
// the stream ORDERS of Default has some).
func DefaultStream() Stream {
	return Stream{
		Retention:       "limits",
		Replicas:        1,
		MaxMsgs:         -1,
		MaxBytes:        -1,
		DuplicateWindow: 2 * time.Minute,
	}
}

// DefaultObserver returns the defaults of every [[observers]] entry.
func DefaultObserver() Observer {
	return Observer{Database: "orders"}
}
