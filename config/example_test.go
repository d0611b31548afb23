package config_test

import (
	"fmt"
	"log"
	"os"

	"github.com/fedsaga/fedsaga/config"
)

func ExampleLoad() {
	// Reads the file given on the command line, else $FEDSAGA_CONFIG, else
	// ./fedsaga.toml if there is one; then the FEDSAGA_ environment.
	cfg, err := config.Load("")
	if err != nil {
		// Every problem, one per line, each naming its key.
		log.Fatal(err)
	}
	if p := config.ResolvePath(""); p != "" {
		fmt.Fprintln(os.Stderr, "configuration from", p)
	}
	fmt.Println(cfg.Temporal.TaskQueue)
}

func ExampleRedactURL() {
	fmt.Println(config.RedactURL("postgres://app:s3cret@db:5432/orders?sslmode=require"))
	fmt.Println(config.RedactURL("host=db user=app password='s3 cret' dbname=orders"))
	fmt.Println(config.RedactURL("nats://user:pw@nats-1:4222,nats://token@nats-2:4222"))
	// Output:
	// postgres://app:[REDACTED]@db:5432/orders?sslmode=require
	// host=db user=app password=[REDACTED] dbname=orders
	// nats://user:[REDACTED]@nats-1:4222,nats://[REDACTED]@nats-2:4222
}

func ExampleConfig_Print() {
	cfg := config.Default()
	db := config.DefaultDatabase()
	db.URL = "postgres://app:s3cret@db:5432/orders"
	cfg.Databases["orders"] = db
	if err := cfg.Print(os.Stdout); err != nil {
		log.Fatal(err)
	}
	// Output:
	// [log]
	//   format = 'auto'
	//   level = 'info'
	//
	// [temporal]
	//   address = '127.0.0.1:7233'
	//   api_key = ''
	//   grpc_compression = 'gzip'
	//   manage_search_attributes = true
	//   namespace = 'default'
	//   task_queue = 'fedsaga-orders'
	//
	//   [temporal.tls]
	//     ca_file = ''
	//     cert_file = ''
	//     disabled = false
	//     enabled = false
	//     key_file = ''
	//     server_name = ''
	//
	// [databases]
	//   [databases.orders]
	//     idle_max_age = '5m0s'
	//     log_queries = false
	//     log_slow_queries = '200ms'
	//     pool_size = 10
	//     pool_timeout = '5s'
	//     statement_timeout = '5s'
	//     url = 'postgres://app:[REDACTED]@db:5432/orders'
	//
	// [federation]
	//   batch_size = 1000
	//   default_page_size = 50
	//   default_timeout = '5s'
	//   http_address = '127.0.0.1:8080'
	//   max_page_size = 1000
	//
	//   [federation.api]
	//     auth = 'required'
	//     idle_timeout = '1m0s'
	//     max_id_length = 128
	//     max_ids = 100
	//     metrics_address = '127.0.0.1:9465'
	//     read_timeout = '10s'
	//     tokens = []
	//     write_timeout = '30s'
	//
	//     [federation.api.graphql]
	//       introspection = false
	//       max_cost = 5000
	//       max_depth = 10
	//
	//     [federation.api.tls]
	//       cert_file = ''
	//       client_ca_file = ''
	//       key_file = ''
	//
	//   [federation.database_timeouts]
	//
	//   [federation.relations]
	//     [federation.relations.items]
	//       from = 'order'
	//       to = 'item'
	//
	//     [federation.relations.payment]
	//       from = 'order'
	//       to = 'payment'
	//
	//     [federation.relations.product]
	//       from = 'item'
	//       to = 'product'
	//
	//     [federation.relations.reservations]
	//       from = 'order'
	//       to = 'reservation'
	//
	// [saga]
	//   compensation_timeout = '10m0s'
	//   continue_with_error = false
	//   mode = 'regular'
	//   notify_channel = 'fedsaga_saga_steps'
	//   notify_steps = false
	//   parallel_compensation = false
	//   timeout = '5m0s'
	//
	// [nats]
	//   url = 'nats://127.0.0.1:4222'
	//
	//   [nats.auth]
	//     credentials_file = ''
	//     nkey_seed_file = ''
	//     password = ''
	//     token = ''
	//     type = 'none'
	//     user = ''
	//
	//   [nats.jetstream]
	//     manage_streams = true
	//
	//     [nats.jetstream.consumers]
	//
	//     [nats.jetstream.streams]
	//       [nats.jetstream.streams.ORDERS]
	//         duplicate_window = '2m0s'
	//         max_bytes = -1
	//         max_msgs = -1
	//         replicas = 1
	//         retention = 'limits'
	//         subjects = ['fedsaga.order.>']
	//
	//       [nats.jetstream.streams.ORDERS_ADVISORIES]
	//         duplicate_window = '2m0s'
	//         max_bytes = -1
	//         max_msgs = -1
	//         replicas = 1
	//         retention = 'workqueue'
	//         subjects = ['$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.>']
	//
	//       [nats.jetstream.streams.ORDERS_DLQ]
	//         duplicate_window = '2m0s'
	//         max_bytes = -1
	//         max_msgs = -1
	//         replicas = 1
	//         retention = 'limits'
	//         subjects = ['fedsaga.dlq.>']
	//
	//   [nats.partitions]
	//     count = 0
	//
	//   [nats.tls]
	//     ca_file = ''
	//     cert_file = ''
	//     key_file = ''
	//
	// [events]
	//   publish_timeout = '2m0s'
	//   relay_batch = 500
	//   relay_delay = '5s'
	//   relay_poll = '5s'
	//
	// [worker]
	//   activity_task_pollers = 100
	//   build_id = ''
	//   deployment_name = ''
	//   http_address = ':9464'
	//   max_concurrent_activities = 0
	//   max_concurrent_local_activities = 0
	//   max_concurrent_workflow_tasks = 1000
	//   pprof = false
	//   stop_timeout = '30s'
	//   workflow_task_pollers = 100
	//
	// [codec]
	//   active_key = ''
	//   allow_unauthenticated = false
	//   auth_token = ''
	//   cors_origins = ['http://localhost:8233']
	//   customer_id_attribute = 'plain'
	//   enabled = false
	//   http_address = '127.0.0.1:8234'
	//
	//   [codec.customer_id_key]
	//     env = ''
	//     file = ''
	//
	//   [codec.keys]
	//
	// [telemetry]
	//   enabled = false
	//   endpoint = ''
	//   protocol = 'grpc'
	//   sample_ratio = 1.0
	//   service_name = 'fedsaga'
}
