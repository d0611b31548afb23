-- +goose Up
-- The relay takes the oldest unpublished event of each order: this index
-- answers "an earlier unpublished event of the same order?" directly.
CREATE INDEX tb_outbox_order_unpublished_idx ON tb_outbox (order_id, seq) WHERE published_at IS NULL;

-- +goose Down
DROP INDEX tb_outbox_order_unpublished_idx;
