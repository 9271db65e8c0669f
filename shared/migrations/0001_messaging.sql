-- Messaging tables every service schema carries (DESIGN.md, "Effectively-once effects").

-- One row per consumed event: (consumer, source, event_id) identifies it; the payload hash tells a
-- harmless redelivery (same hash) from a conflicting reuse of an id (other hash).
CREATE TABLE inbox (
    consumer      text        NOT NULL,
    source        text        NOT NULL,
    event_id      text        NOT NULL,
    payload_hash  bytea       NOT NULL CHECK (length(payload_hash) = 32),
    topic         text        NOT NULL,
    kafka_partition integer   NOT NULL,
    kafka_offset  bigint      NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source, event_id)
);

-- A record that reused an event id with other content; kept whole, reported once per position.
CREATE TABLE inbox_conflict (
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    consumer        text        NOT NULL,
    source          text        NOT NULL,
    event_id        text        NOT NULL,
    payload_hash    bytea       NOT NULL,
    value           bytea       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);

-- Every unreadable record, once per position; the record itself goes to <service>.dlq.
CREATE TABLE dead_letter (
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    reason          text        NOT NULL,
    detail          text        NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);

-- Events to publish, written in the same transaction as the state they describe.
CREATE TABLE outbox (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic          text        NOT NULL,
    key            bytea,
    value          bytea       NOT NULL,
    header_names   text[]      NOT NULL,
    header_values  bytea[]     NOT NULL,
    event_id       text,
    event_type     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz,
    CHECK (cardinality(header_names) = cardinality(header_values))
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
