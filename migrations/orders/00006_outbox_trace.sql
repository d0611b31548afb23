-- +goose Up
-- The W3C trace context of the transaction that wrote the event (NULL when
-- tracing was off), so that its publish, by the saga or by the relay in
-- another process later, continues the saga's trace.
ALTER TABLE tb_outbox ADD COLUMN traceparent text, ADD COLUMN tracestate text;

-- +goose Down
ALTER TABLE tb_outbox DROP COLUMN traceparent, DROP COLUMN tracestate;
