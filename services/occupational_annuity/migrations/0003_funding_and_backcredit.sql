-- 做实 (funding members' notional balances) and 补记 (back-credits), DOMAIN.md "Occupational
-- annuity" and CONTRACTS.md "annuity.ledger". Money is integer fen.

ALTER TABLE transfer_request DROP CONSTRAINT transfer_request_purpose_check;
ALTER TABLE transfer_request ADD CONSTRAINT transfer_request_purpose_check
    CHECK (purpose IN ('annuity_remittance', 'annuity_interest_topup',
                       'annuity_notional_funding', 'annuity_backcredit'));

-- A funding moves money, it never creates it: each member's amount leaves unit_notional (the only
-- entry that may be negative) and enters unit_real, in one journal of source `notional_funding`.
-- A back-credit enters unit_real (source `backcredit`).
ALTER TABLE entry DROP CONSTRAINT entry_amount_fen_check;
ALTER TABLE entry ADD CONSTRAINT entry_amount_fen_check
    CHECK (amount_fen > 0 OR (amount_fen < 0 AND source_kind = 'notional_funding'
                              AND sub_ledger = 'unit_notional'));
ALTER TABLE entry DROP CONSTRAINT entry_source_kind_check;
ALTER TABLE entry ADD CONSTRAINT entry_source_kind_check
    CHECK (source_kind IN ('contribution', 'interest_topup', 'notional_interest',
                           'notional_funding', 'backcredit'));
CREATE INDEX entry_by_entity_notional ON entry (fiscal_entity_code, person_id)
    WHERE sub_ledger = 'unit_notional';

-- Personnel systems' events as accepted (a rejected one is answered, not kept, so it may be sent
-- again once it is right): the same id with the same content is a repeat, other content a
-- conflict. Ids are unique per kind across entities.
CREATE TABLE personnel_event (
    kind                text        NOT NULL CHECK (kind IN ('retirement', 'backcredit')),
    event_id            text        NOT NULL,
    content_hash        bytea       NOT NULL,
    person_id           text        NOT NULL,
    fiscal_entity_code  text        NOT NULL CHECK (fiscal_entity_code ~ '^[0-9]{6}$'),
    dated_on            date        NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, event_id)
);

CREATE TABLE notional_funding (
    funding_id          text    PRIMARY KEY,
    fiscal_entity_code  text    NOT NULL CHECK (fiscal_entity_code ~ '^[0-9]{6}$'),
    cause               text    NOT NULL CHECK (cause IN ('retirement', 'command')),
    cause_id            text    NOT NULL,
    as_of               date    NOT NULL,
    due_on              date    NOT NULL,
    total_fen           bigint  NOT NULL CHECK (total_fen > 0),
    status              text    NOT NULL CHECK (status IN ('requested', 'completed')),
    notice_id           text,
    value_date          date,
    UNIQUE (fiscal_entity_code, cause, cause_id),
    CHECK ((status = 'completed') = (value_date IS NOT NULL))
);

-- Each member is funded at most once per entity: the primary key claims them.
CREATE TABLE funded_member (
    person_id           text    NOT NULL,
    fiscal_entity_code  text    NOT NULL,
    funding_id          text    NOT NULL REFERENCES notional_funding,
    amount_fen          bigint  NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (person_id, fiscal_entity_code)
);
CREATE INDEX funded_member_by_funding ON funded_member (funding_id);

CREATE TABLE backcredit (
    backcredit_id       text    PRIMARY KEY,
    request_id          text    NOT NULL UNIQUE,
    person_id           text    NOT NULL,
    fiscal_entity_code  text    NOT NULL CHECK (fiscal_entity_code ~ '^[0-9]{6}$'),
    amount_fen          bigint  NOT NULL CHECK (amount_fen > 0),
    recorded_on         date    NOT NULL,
    due_on              date    NOT NULL,
    document_no         text    NOT NULL,
    status              text    NOT NULL CHECK (status IN ('requested', 'completed')),
    notice_id           text,
    value_date          date,
    CHECK ((status = 'completed') = (value_date IS NOT NULL))
);
