-- +goose Up
CREATE TABLE tb_account (
    customer_id   text PRIMARY KEY,
    name          text NOT NULL DEFAULT '',
    balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tb_transaction (
    order_id     text PRIMARY KEY,
    customer_id  text NOT NULL REFERENCES tb_account (customer_id),
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    status       text NOT NULL CHECK (status IN ('charged', 'refunded')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE tb_transaction;
DROP TABLE tb_account;
