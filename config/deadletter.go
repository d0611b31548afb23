package config

import "fmt"

// The streams of dead letters, which Default configures beside OrdersStream
// (so the worker creates them like any stream, when manage_streams is true).
const (
	// DeadLetterStream keeps a copy of every order event that a consumer
	// failed to handle max-deliveries times, on DeadLetterPrefix + the
	// event's subject.
	DeadLetterStream = OrdersStream + "_DLQ"
	// AdvisoryStream captures the server's max-deliveries advisories for
	// OrdersStream, so that a message that exhausted its deliveries while no
	// fedsaga process ran still reaches DeadLetterStream: the worker moves
	// each advisory there. Work-queue retention: a moved advisory is gone.
	AdvisoryStream = OrdersStream + "_ADVISORIES"
	// DeadLetterPrefix starts the subjects of DeadLetterStream.
	DeadLetterPrefix = "fedsaga.dlq."
	// DefaultNotifyChannel is the default of saga.notify_channel.
	DefaultNotifyChannel = "fedsaga_saga_steps"
)

// MaxDeliveriesSubject is the subject of the server's max-deliveries
// advisories for the consumers of stream ("*" or ">" for any).
func MaxDeliveriesSubject(stream, consumer string) string {
	return fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", stream, consumer)
}

func deadLetterStream() Stream {
	s := DefaultStream()
	s.Subjects = []string{DeadLetterPrefix + ">"}
	return s
}

func advisoryStream() Stream {
	s := DefaultStream()
	s.Subjects = []string{MaxDeliveriesSubject(OrdersStream, ">")}
	s.Retention = "workqueue"
	return s
}
