-- occupational_annuity: members' sub-ledgers, collection per (entity, period), upward remittance,
-- interest top-up (补息) and notional interest. Money is integer fen (bigint, *_fen).

-- Registered declarations, latest revision. Only occupational_annuity ones keep their figures and
-- lines; other schemes keep their id so their payments are not held as waiting forever.
CREATE TABLE declaration (
    declaration_id      text        PRIMARY KEY,
    revision            integer     NOT NULL CHECK (revision >= 0),
    scheme              text        NOT NULL,
    fiscal_entity_code  text        CHECK (fiscal_entity_code ~ '^[0-9]{6}$'),
    fee_period          text        CHECK (fee_period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    unit_funding        text        CHECK (unit_funding IN ('self', 'treasury_full')),
    credited_at         timestamptz,
    registered_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (scheme <> 'occupational_annuity'
           OR (fiscal_entity_code IS NOT NULL AND fee_period IS NOT NULL
               AND unit_funding IS NOT NULL))
);

CREATE TABLE declaration_line (
    declaration_id  text    NOT NULL REFERENCES declaration ON DELETE CASCADE,
    line_no         integer NOT NULL CHECK (line_no >= 1),
    person_id       text    NOT NULL,
    employer_fen    bigint  NOT NULL CHECK (employer_fen >= 0),
    employee_fen    bigint  NOT NULL CHECK (employee_fen >= 0),
    PRIMARY KEY (declaration_id, line_no)
);

-- Payments as collection settled them; a settlement may arrive before its declaration.
CREATE TABLE settlement (
    payment_id              text    PRIMARY KEY,
    declaration_id          text    NOT NULL,
    revision                integer NOT NULL CHECK (revision >= 0),
    status                  text    NOT NULL CHECK (status IN ('paid', 'underpaid', 'overpaid')),
    paid_on                 date    NOT NULL,
    amount_paid_fen         bigint  NOT NULL CHECK (amount_paid_fen >= 0),
    amount_outstanding_fen  bigint  NOT NULL CHECK (amount_outstanding_fen >= 0),
    uncredited_reported     boolean NOT NULL DEFAULT false,
    arrival                 bigint  GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX settlement_by_declaration ON settlement (declaration_id, arrival);

CREATE TABLE member (
    person_id  text        PRIMARY KEY CHECK (person_id ~ '^[0-9]{17}[0-9X]$'),
    opened_at  timestamptz NOT NULL DEFAULT now()
);

-- The journal: one row per money movement into a member's sub-ledger, never changed.
CREATE TABLE entry (
    entry_id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id           text        NOT NULL REFERENCES member,
    sub_ledger          text        NOT NULL
        CHECK (sub_ledger IN ('individual_real', 'unit_real', 'unit_notional', 'interest_topup')),
    amount_fen          bigint      NOT NULL CHECK (amount_fen > 0),
    fiscal_entity_code  text        NOT NULL CHECK (fiscal_entity_code ~ '^[0-9]{6}$'),
    fee_period          text,
    -- From when the money counts: notional interest of a year is earned on money effective
    -- before 1 January of that year.
    effective_on        date        NOT NULL,
    source_kind         text        NOT NULL
        CHECK (source_kind IN ('contribution', 'interest_topup', 'notional_interest')),
    source_id           text        NOT NULL,
    posted_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_kind, source_id, person_id, sub_ledger, fiscal_entity_code)
);
CREATE INDEX entry_by_person ON entry (person_id);
CREATE INDEX entry_notional ON entry (effective_on) WHERE sub_ledger = 'unit_notional';

CREATE FUNCTION entry_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'entry rows are immutable (%), post a new entry instead', TG_OP;
END
$$;
CREATE TRIGGER entry_immutable BEFORE UPDATE OR DELETE ON entry
    FOR EACH ROW EXECUTE FUNCTION entry_is_immutable();
CREATE TRIGGER entry_no_truncate BEFORE TRUNCATE ON entry
    FOR EACH STATEMENT EXECUTE FUNCTION entry_is_immutable();

-- Balances are derived from the journal, never stored.
CREATE VIEW member_balance AS
SELECT person_id,
       coalesce(sum(amount_fen) FILTER (WHERE sub_ledger = 'individual_real'), 0)
           AS individual_real_fen,
       coalesce(sum(amount_fen) FILTER (WHERE sub_ledger = 'unit_real'), 0) AS unit_real_fen,
       coalesce(sum(amount_fen) FILTER (WHERE sub_ledger = 'unit_notional'), 0)
           AS unit_notional_fen,
       coalesce(sum(amount_fen) FILTER (WHERE sub_ledger = 'interest_topup'), 0)
           AS interest_topup_fen
FROM entry
GROUP BY person_id;

-- One credit per declaration (a replay credits nothing twice).
CREATE TABLE credit (
    declaration_id       text        PRIMARY KEY REFERENCES declaration,
    revision             integer     NOT NULL,
    payment_id           text        NOT NULL,
    fiscal_entity_code   text        NOT NULL,
    fee_period           text        NOT NULL,
    unit_funding         text        NOT NULL,
    individual_real_fen  bigint      NOT NULL CHECK (individual_real_fen >= 0),
    unit_real_fen        bigint      NOT NULL CHECK (unit_real_fen >= 0),
    unit_notional_fen    bigint      NOT NULL CHECK (unit_notional_fen >= 0),
    -- pending: funded money collected before investment start, not yet assessed for 补息
    topup_state          text        NOT NULL
        CHECK (topup_state IN ('not_applicable', 'pending', 'assessed')),
    topup_assessment_id  text,
    credited_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((topup_state = 'assessed') = (topup_assessment_id IS NOT NULL))
);
CREATE INDEX credit_topup_pending ON credit (fiscal_entity_code, fee_period)
    WHERE topup_state = 'pending';

-- Funded money of one (fiscal entity, fee period): collected, and requested upward so far.
CREATE TABLE period_account (
    fiscal_entity_code  text    NOT NULL,
    fee_period          text    NOT NULL,
    collected_fen       bigint  NOT NULL DEFAULT 0 CHECK (collected_fen >= 0),
    requested_fen       bigint  NOT NULL DEFAULT 0 CHECK (requested_fen >= 0),
    remittance_count    integer NOT NULL DEFAULT 0 CHECK (remittance_count >= 0),
    topup_count         integer NOT NULL DEFAULT 0 CHECK (topup_count >= 0),
    PRIMARY KEY (fiscal_entity_code, fee_period),
    CHECK (requested_fen <= collected_fen)
);
CREATE INDEX period_unrequested ON period_account (fee_period)
    WHERE requested_fen < collected_fen AND fiscal_entity_code <> '150000';

CREATE TABLE remittance (
    remittance_id       text    PRIMARY KEY,
    fiscal_entity_code  text    NOT NULL,
    fee_period          text    NOT NULL,
    sequence            integer NOT NULL CHECK (sequence >= 0),
    amount_fen          bigint  NOT NULL CHECK (amount_fen > 0),
    requested_on        date    NOT NULL,
    due_on              date    NOT NULL,
    status              text    NOT NULL CHECK (status IN ('requested', 'completed')),
    notice_id           text,
    value_date          date,
    on_time             boolean,
    UNIQUE (fiscal_entity_code, fee_period, sequence),
    CHECK ((status = 'completed') = (value_date IS NOT NULL))
);
CREATE INDEX remittance_open ON remittance (due_on) WHERE status = 'requested';

-- Each overdue remittance is reported at most once per as_of date.
CREATE TABLE remittance_overdue (
    remittance_id  text        NOT NULL REFERENCES remittance,
    as_of          date        NOT NULL,
    reported_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (remittance_id, as_of)
);

CREATE TABLE topup_assessment (
    assessment_id       text    PRIMARY KEY,
    fiscal_entity_code  text    NOT NULL,
    fee_period          text    NOT NULL,
    sequence            integer NOT NULL CHECK (sequence >= 0),
    interest_from       date    NOT NULL,
    interest_to         date    NOT NULL CHECK (interest_to > interest_from),
    total_fen           bigint  NOT NULL CHECK (total_fen >= 0),
    assessed_on         date    NOT NULL,
    funding_due_on      date    NOT NULL,
    rule_version        text    NOT NULL,
    -- funding: requested from the paying treasury; nothing_to_fund: the total rounded to 0.00
    status              text    NOT NULL CHECK (status IN ('funding', 'allocated', 'nothing_to_fund')),
    notice_id           text,
    UNIQUE (fiscal_entity_code, fee_period, sequence)
);

CREATE TABLE topup_member (
    assessment_id  text   NOT NULL REFERENCES topup_assessment,
    person_id      text   NOT NULL,
    principal_fen  bigint NOT NULL CHECK (principal_fen > 0),
    interest_fen   bigint NOT NULL CHECK (interest_fen >= 0),
    PRIMARY KEY (assessment_id, person_id)
);

-- Periods a check could not assess because a year of their interval has no rate configured.
CREATE TABLE topup_hold (
    fiscal_entity_code  text      NOT NULL,
    fee_period          text      NOT NULL,
    missing_years       integer[] NOT NULL,
    first_seen_on       date      NOT NULL,
    last_seen_on        date      NOT NULL,
    PRIMARY KEY (fiscal_entity_code, fee_period)
);

-- Notices of fund_transfer about our requests, each handled once.
CREATE TABLE transfer_notice (
    notice_id           text        PRIMARY KEY,
    outcome             text        NOT NULL CHECK (outcome IN ('settled', 'failed')),
    purpose             text        NOT NULL,
    covers              text[]      NOT NULL,
    amount_fen          bigint      NOT NULL,
    amount_settled_fen  bigint      NOT NULL,
    value_date          date,
    reason              text,
    replaced_by         text,
    recorded_at         timestamptz NOT NULL DEFAULT now()
);

-- Notional interest: at most once per (member, entity, year).
CREATE TABLE notional_posting (
    person_id           text    NOT NULL,
    fiscal_entity_code  text    NOT NULL,
    year                integer NOT NULL,
    balance_fen         bigint  NOT NULL CHECK (balance_fen > 0),
    interest_fen        bigint  NOT NULL CHECK (interest_fen > 0),
    rate                text    NOT NULL,
    command_id          text    NOT NULL,
    PRIMARY KEY (person_id, fiscal_entity_code, year)
);

-- Inbound events this service could not read as its reader's view describes (kept, not dropped).
CREATE TABLE ignored_event (
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    reasons      jsonb       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);
