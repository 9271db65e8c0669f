-- Enterprise annuity filings (企业年金, docs/contracts.md) and the occupational annuity's data check
-- against the basic pension (policy 二(四)13). Money in fen.

-- One row per filing id: its current registered revision's figures (state 'registered'), or
-- only rejected revisions so far ('rejected'). The plan year's caps add up the registered rows.
CREATE TABLE ea_filing (
    declaration_id      text    PRIMARY KEY,
    state               text    NOT NULL CHECK (state IN ('rejected', 'registered')),
    revision            bigint  CHECK (revision >= 0),
    employer_uscc       text,
    fiscal_entity_code  text,
    fee_period          text,
    plan_year           integer,
    payroll_total_fen   bigint  CHECK (payroll_total_fen > 0),
    employer_total_fen  bigint  CHECK (employer_total_fen >= 0),
    employee_total_fen  bigint  CHECK (employee_total_fen >= 0),
    rule_version        text,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'registered' OR (revision IS NOT NULL AND employer_uscc IS NOT NULL
           AND plan_year IS NOT NULL AND payroll_total_fen IS NOT NULL
           AND employer_total_fen IS NOT NULL AND employee_total_fen IS NOT NULL))
);
CREATE INDEX ea_filing_employer_year ON ea_filing (employer_uscc, plan_year)
    WHERE state = 'registered';

-- Every (filing id, revision) received with a hash of its content (duplicate vs conflict, I2).
CREATE TABLE ea_filing_revision (
    declaration_id  text    NOT NULL,
    revision        bigint  NOT NULL CHECK (revision >= 0),
    content_hash    bytea   NOT NULL CHECK (length(content_hash) = 32),
    outcome         text    NOT NULL CHECK (outcome IN ('registered', 'rejected')),
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (declaration_id, revision)
);

-- The members of every registered revision (identity numbers: never logged).
CREATE TABLE ea_line (
    declaration_id       text    NOT NULL,
    revision             bigint  NOT NULL,
    line_no              integer NOT NULL CHECK (line_no >= 1),
    person_id            text    NOT NULL,
    employer_amount_fen  bigint  NOT NULL CHECK (employer_amount_fen >= 0),
    employee_amount_fen  bigint  NOT NULL CHECK (employee_amount_fen >= 0),
    PRIMARY KEY (declaration_id, revision, line_no)
);

-- Finding a person's basic-pension periods (back-fill rule) and lines by employer and period
-- (the annuity base check) without scanning every line.
CREATE INDEX declaration_line_person ON declaration_line (person_id);
CREATE INDEX declaration_employer_period ON declaration (employer_uscc, fee_period)
    WHERE state = 'registered';

-- One finding per (employer, fee period, person) whose annuity base is not its basic-pension
-- base, or has no basic-pension line; open until the data agree (or the annuity line is gone).
CREATE TABLE annuity_base_finding (
    finding_id              text    PRIMARY KEY,
    employer_uscc           text    NOT NULL,
    fee_period              text    NOT NULL,
    person_id               text    NOT NULL,
    fiscal_entity_code      text    NOT NULL,
    state                   text    NOT NULL CHECK (state IN ('open', 'resolved')),
    kind                    text    NOT NULL CHECK (kind IN ('BASE_MISMATCH',
                                                            'BASIC_PENSION_MISSING')),
    annuity_declaration_id  text    NOT NULL,
    annuity_line_no         integer NOT NULL,
    annuity_base_fen        bigint  NOT NULL,
    basic_declaration_id    text,
    basic_base_fen          bigint,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (employer_uscc, fee_period, person_id)
);
