-- +goose Up
CREATE TABLE tb_order (
    id          text PRIMARY KEY,
    customer_id text NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled')),
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tb_order_customer_idx ON tb_order (customer_id);

CREATE TABLE tb_order_item (
    order_id    text NOT NULL REFERENCES tb_order (id) ON DELETE CASCADE,
    product_id  text NOT NULL,
    sku         text NOT NULL,
    name        text NOT NULL,
    quantity    integer NOT NULL CHECK (quantity > 0),
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    PRIMARY KEY (order_id, product_id)
);

-- Events leave through the outbox: written in the same transaction as the
-- write that decides the outcome, published to JetStream with id as the
-- Nats-Msg-Id. seq keeps the events of one order in the order they were
-- written.
CREATE TABLE tb_outbox (
    id           text PRIMARY KEY,
    seq          bigserial NOT NULL UNIQUE,
    order_id     text NOT NULL,
    event_type   text NOT NULL,
    subject      text NOT NULL,
    payload      json NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX tb_outbox_unpublished_idx ON tb_outbox (seq) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE tb_outbox;
DROP TABLE tb_order_item;
DROP TABLE tb_order;
