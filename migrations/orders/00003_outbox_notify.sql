-- +goose Up
-- Every new outbox row wakes the outbox relays (LISTEN fedsaga_outbox).
-- +goose StatementBegin
CREATE FUNCTION fedsaga_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fedsaga_outbox', NEW.order_id);
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER tb_outbox_notify AFTER INSERT ON tb_outbox
    FOR EACH ROW EXECUTE FUNCTION fedsaga_outbox_notify();

-- +goose Down
DROP TRIGGER tb_outbox_notify ON tb_outbox;
DROP FUNCTION fedsaga_outbox_notify();
