-- +goose Up
-- Why the saga compensated, on a compensation's row ('compensate'; NULL on
-- action rows and on rows written before the column). A forward step that
-- finds its compensation's row reports it: a saga run again after a lost
-- workflow task compensates for the reason the lost task had.
ALTER TABLE tb_barrier ADD COLUMN reason text;

-- +goose Down
ALTER TABLE tb_barrier DROP COLUMN reason;
