-- +goose Up
-- The saga barrier: one row per (saga, step, op) that ran in this database,
-- inserted in the same local transaction as the step's business write.
-- op is 'action' for the forward write and 'compensate' for its undo.
CREATE TABLE tb_barrier (
    saga_id    text NOT NULL,
    step       text NOT NULL,
    op         text NOT NULL CHECK (op IN ('action', 'compensate')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (saga_id, step, op)
);

-- +goose Down
DROP TABLE tb_barrier;
