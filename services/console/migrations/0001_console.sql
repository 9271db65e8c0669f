-- The console's read model. It only copies what the topics say; every figure on a page is
-- computed from these rows by the same code as `pension-ops report` (shared/cli/report_model.py).

-- Every event of the consumed topics, once (the inbox drops redeliveries and relay re-sends).
-- `topic` is the topic's name without a test namespace; `keys` holds every id the event names
-- (declaration, payment, notice, remittance, assessment, covered ids), to follow the money.
CREATE TABLE event (
    topic              text    NOT NULL,
    kafka_partition    integer NOT NULL,
    kafka_offset       bigint  NOT NULL,
    source             text    NOT NULL,
    event_id           text    NOT NULL,
    event_type         text    NOT NULL,
    event_time         text    NOT NULL,
    declaration_id     text,
    fiscal_entity_code text,
    period             text,
    keys               text[]  NOT NULL DEFAULT '{}',
    data               jsonb   NOT NULL,
    received_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);
CREATE INDEX event_declaration ON event (declaration_id) WHERE declaration_id IS NOT NULL;
CREATE INDEX event_keys ON event USING gin (keys);
CREATE INDEX event_entity_period ON event (fiscal_entity_code, period);

-- The periods whose report must be (re)built: a batch raises `dirty_version`, the refresher
-- builds the report and records the version it built from.
CREATE TABLE report_period (
    period        text   PRIMARY KEY CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
    dirty_version bigint NOT NULL DEFAULT 1,
    built_version bigint NOT NULL DEFAULT 0
);

-- The month report as `pension-ops report PERIOD --json` prints it.
CREATE TABLE report_snapshot (
    period   text        PRIMARY KEY REFERENCES report_period (period),
    report   json        NOT NULL,  -- json, not jsonb: keeps the sections in report order
    built_at timestamptz NOT NULL DEFAULT now()
);

-- Dead letters of the services, copied by position. The value is kept up to 256 KiB (a dead
-- letter may hold 16 MiB; `value_bytes` says how large it was).
CREATE TABLE dlq_record (
    topic              text    NOT NULL,
    kafka_partition    integer NOT NULL,
    kafka_offset       bigint  NOT NULL,
    service            text    NOT NULL,
    reason             text    NOT NULL,
    detail             text    NOT NULL,
    original_topic     text    NOT NULL,
    original_position  text    NOT NULL,
    consumer_group     text    NOT NULL,
    failed_at          text    NOT NULL,
    key                bytea,
    value              bytea,
    value_bytes        integer NOT NULL,
    headers            jsonb   NOT NULL,
    copied_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, kafka_partition, kafka_offset)
);
CREATE INDEX dlq_record_reason ON dlq_record (service, reason);
