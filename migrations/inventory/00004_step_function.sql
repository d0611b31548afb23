-- +goose Up
-- fedsaga_step ends every forward step's statement (package activities,
-- stepEnd), so that a step is one statement in its own transaction: one
-- round trip. A business failure (failure_type not NULL) raises SQLSTATE
-- FS001, its message the failure's and its detail the failure's type
-- (spec.Err...): the statement fails whole, barrier row included. Else, when
-- the step's barrier row is new and channel is not empty ([saga]
-- notify_steps), it sends the step notification, delivered at commit. It
-- returns first.
-- +goose StatementBegin
CREATE FUNCTION fedsaga_step(first boolean, failure_type text, failure text, channel text, payload text)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF failure_type IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'FS001', MESSAGE = failure, DETAIL = failure_type;
    END IF;
    IF first AND channel <> '' THEN
        PERFORM pg_notify(channel, payload);
    END IF;
    RETURN first;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION fedsaga_step(boolean, text, text, text, text);
