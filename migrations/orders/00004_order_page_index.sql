-- +goose Up
-- Keyset pagination of the read API: ORDER BY created_at, id.
CREATE INDEX tb_order_page_idx ON tb_order (created_at, id);

-- +goose Down
DROP INDEX tb_order_page_idx;
