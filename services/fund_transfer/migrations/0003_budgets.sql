-- Budgets of the local subsidies (finance.subsidy.budgets) and the gaps a deadline check found
-- against them (docs/contracts.md). Append-only for the service's role: a later revision is a
-- new row, and the one in force is the highest revision of its (entity, fund, year).
CREATE TABLE budget (
    budget_id              text    PRIMARY KEY,
    revision               integer NOT NULL CHECK (revision >= 0),
    fiscal_entity_code     text    NOT NULL,
    fund                   text    NOT NULL,
    year                   integer NOT NULL,
    amount_per_month_fen   bigint  NOT NULL CHECK (amount_per_month_fen > 0),
    document_no            text    NOT NULL,
    received_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fiscal_entity_code, fund, year, revision)
);

-- Each (entity, fund, period) short of its budget is reported at most once per check date.
CREATE TABLE budget_gap_report (
    fiscal_entity_code  text    NOT NULL,
    fund                text    NOT NULL,
    period              text    NOT NULL,
    as_of               date    NOT NULL,
    kind                text    NOT NULL CHECK (kind IN ('missing', 'below_budget')),
    amount_short_fen    bigint  NOT NULL CHECK (amount_short_fen > 0),
    reported_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fiscal_entity_code, fund, period, as_of)
);
