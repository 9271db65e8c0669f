-- A row the broker refuses for good (too large, topic gone, not authorised) leaves the head of the
-- relay's line: it is set aside with the broker's reason instead of blocking every row behind it.
-- Operators see it (metrics, `pension-ops status`) and may release it after fixing the cause:
--   UPDATE outbox SET set_aside_at = NULL, set_aside_reason = NULL WHERE id = ...;
ALTER TABLE outbox ADD COLUMN set_aside_at timestamptz;
ALTER TABLE outbox ADD COLUMN set_aside_reason text;
ALTER TABLE outbox ADD CONSTRAINT outbox_set_aside_has_reason
    CHECK ((set_aside_at IS NULL) = (set_aside_reason IS NULL));

DROP INDEX outbox_unpublished;
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL AND set_aside_at IS NULL;
CREATE INDEX outbox_set_aside ON outbox (id) WHERE set_aside_at IS NOT NULL AND published_at IS NULL;
