-- Collection's state (CONTRACTS.md: tax.contribution.*, collection.declarations). Money is
-- integer fen (bigint, *_fen); the schema is the service's own (the pool's search_path).

-- One row per declaration id ever named, by a declaration or by a payment that came first. It
-- is the row every path locks (SELECT ... FOR UPDATE), so a payment and its declaration handled
-- by two instances at once cannot miss each other. The figures are the current revision's.
CREATE TABLE declaration (
    declaration_id        text    PRIMARY KEY,
    state                 text    NOT NULL DEFAULT 'unknown'
                                  CHECK (state IN ('unknown', 'rejected', 'registered')),
    revision              bigint  CHECK (revision >= 0),
    employer_uscc         text,
    region_code           text,
    fiscal_entity_code    text,
    scheme                text,
    unit_funding          text,
    fee_period            text,
    declared_on           date,
    due_on                date,
    line_count            integer CHECK (line_count > 0),
    base_total_fen        bigint  CHECK (base_total_fen >= 0),
    employer_total_fen    bigint  CHECK (employer_total_fen >= 0),
    employee_total_fen    bigint  CHECK (employee_total_fen >= 0),
    amount_due_fen        bigint  CHECK (amount_due_fen >= 0),
    amount_paid_fen       bigint  NOT NULL DEFAULT 0 CHECK (amount_paid_fen >= 0),
    payment_count         integer NOT NULL DEFAULT 0 CHECK (payment_count >= 0),
    waiting_payment_count integer NOT NULL DEFAULT 0 CHECK (waiting_payment_count >= 0),
    rule_version          text,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'registered' OR (revision IS NOT NULL AND employer_uscc IS NOT NULL
           AND fiscal_entity_code IS NOT NULL AND due_on IS NOT NULL
           AND amount_due_fen IS NOT NULL AND rule_version IS NOT NULL)),
    -- Payments wait only for a declaration that has not arrived yet.
    CHECK (state = 'unknown' OR waiting_payment_count = 0),
    CHECK (state = 'registered' OR payment_count = 0)
);

-- The deadline check scans only what can be overdue.
CREATE INDEX declaration_open ON declaration (due_on)
    WHERE state = 'registered' AND amount_paid_fen < amount_due_fen;

-- Every (declaration id, revision) received, with a hash of its content: the same revision
-- again under another event id is a silent duplicate, with other content a conflict (I2).
CREATE TABLE declaration_revision (
    declaration_id  text    NOT NULL,
    revision        bigint  NOT NULL CHECK (revision >= 0),
    content_hash    bytea   NOT NULL CHECK (length(content_hash) = 32),
    outcome         text    NOT NULL CHECK (outcome IN ('registered', 'rejected')),
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (declaration_id, revision)
);

-- The lines of every registered revision (identity numbers: personal information, never logged).
CREATE TABLE declaration_line (
    declaration_id       text    NOT NULL,
    revision             bigint  NOT NULL,
    line_no              integer NOT NULL CHECK (line_no >= 1),
    person_id            text    NOT NULL,
    person_name          text    NOT NULL,
    base_fen             bigint  NOT NULL CHECK (base_fen >= 0),
    employer_amount_fen  bigint  NOT NULL CHECK (employer_amount_fen >= 0),
    employee_amount_fen  bigint  NOT NULL CHECK (employee_amount_fen >= 0),
    PRIMARY KEY (declaration_id, revision, line_no)
);

-- Every payment id received and what became of it: waiting for its declaration, settled
-- against a revision, or rejected. `arrival` keeps the order in which waiting payments apply.
CREATE TABLE payment (
    payment_id        text    PRIMARY KEY,
    arrival           bigint  GENERATED ALWAYS AS IDENTITY,
    declaration_id    text,
    content_hash      bytea   NOT NULL CHECK (length(content_hash) = 32),
    state             text    NOT NULL CHECK (state IN ('waiting', 'settled', 'rejected')),
    e_tax_voucher_no  text,
    amount_paid_fen   bigint  CHECK (amount_paid_fen > 0),
    paid_on           date,
    revision          bigint,
    covered_fen       bigint  CHECK (covered_fen >= 0),
    days_late         integer CHECK (days_late >= 0),
    late_fee_fen      bigint  CHECK (late_fee_fen >= 0),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (state = 'rejected' OR (declaration_id IS NOT NULL AND amount_paid_fen IS NOT NULL
           AND paid_on IS NOT NULL)),
    CHECK (state <> 'settled' OR (revision IS NOT NULL AND covered_fen IS NOT NULL
           AND days_late IS NOT NULL AND late_fee_fen IS NOT NULL))
);
CREATE INDEX payment_waiting ON payment (declaration_id, arrival) WHERE state = 'waiting';

-- Each overdue declaration is reported at most once per as_of date (CONTRACTS.md, ops.commands).
CREATE TABLE overdue_report (
    declaration_id          text    NOT NULL,
    as_of                   date    NOT NULL,
    revision                bigint  NOT NULL,
    amount_outstanding_fen  bigint  NOT NULL CHECK (amount_outstanding_fen > 0),
    command_id              text    NOT NULL,
    reported_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (declaration_id, as_of)
);
