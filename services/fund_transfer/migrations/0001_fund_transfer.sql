-- fund_transfer: appropriations, obligations, transfer requests, notices, settlements, shortfall
-- reports, and a double-entry ledger. Money is integer fen (bigint, *_fen), never numeric.

-- What a league/city appropriated; immutable (a replay with other content is rejected).
CREATE TABLE appropriation (
    appropriation_id    text   PRIMARY KEY,
    fiscal_entity_code  text   NOT NULL,
    fund                text   NOT NULL,
    period              text   NOT NULL,
    amount_fen          bigint NOT NULL CHECK (amount_fen > 0),
    due_on              date   NOT NULL,
    document_no         text   NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appropriation_obligation ON appropriation (fiscal_entity_code, fund, period);

-- One per (fiscal entity, fund, period): amount due = sum of its appropriations, due at the
-- earliest of their due dates; settled = sum of the money settled on its notices.
CREATE TABLE obligation (
    fiscal_entity_code  text   NOT NULL,
    fund                text   NOT NULL,
    period              text   NOT NULL,
    amount_due_fen      bigint NOT NULL CHECK (amount_due_fen > 0),
    settled_fen         bigint NOT NULL CHECK (settled_fen >= 0),
    due_on              date   NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fiscal_entity_code, fund, period)
);
-- The deadline check reads only what is still open.
CREATE INDEX obligation_open ON obligation (due_on) WHERE settled_fen < amount_due_fen;

-- What another service asked to move (transfer.requested.v1); immutable.
CREATE TABLE transfer_request (
    request_id          text   PRIMARY KEY,
    purpose             text   NOT NULL CHECK (purpose IN ('annuity_remittance', 'annuity_interest_topup')),
    fund                text   NOT NULL,
    period              text   NOT NULL,
    amount_fen          bigint NOT NULL CHECK (amount_fen > 0),
    source_entity_code  text   NOT NULL,
    source_kind         text   NOT NULL,
    target_entity_code  text   NOT NULL,
    target_kind         text   NOT NULL,
    due_on              date   NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);

-- A transfer notice: issued -> settled | failed. `origin`/`origin_id` is the appropriation or
-- request it covers; attempt 0 is the first notice, each replacement one more.
CREATE TABLE notice (
    notice_id           text    PRIMARY KEY,
    attempt             integer NOT NULL CHECK (attempt >= 0),
    purpose             text    NOT NULL CHECK (purpose IN ('subsidy_forwarding', 'annuity_remittance', 'annuity_interest_topup')),
    origin              text    NOT NULL CHECK (origin IN ('appropriation', 'request')),
    origin_id           text    NOT NULL,
    fund                text    NOT NULL,
    period              text    NOT NULL,
    amount_fen          bigint  NOT NULL CHECK (amount_fen > 0),
    due_on              date    NOT NULL,
    source_entity_code  text    NOT NULL,
    source_kind         text    NOT NULL,
    target_entity_code  text    NOT NULL,
    target_kind         text    NOT NULL,
    document_no         text,
    replaces            text    REFERENCES notice (notice_id) DEFERRABLE INITIALLY DEFERRED,
    replaced_by         text,
    state               text    NOT NULL CHECK (state IN ('issued', 'settled', 'failed')),
    settled_fen         bigint  NOT NULL CHECK (settled_fen >= 0),
    bank_references     text[]  NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (origin, origin_id, attempt),
    CHECK (state <> 'settled' OR settled_fen >= amount_fen),
    CHECK (replaced_by IS NULL OR state = 'failed')
);

-- Every settled or failed report, once per settlement_id. `applied` is false while it waits for
-- a notice that is not issued yet; `arrival` keeps the order in which waiting reports apply.
CREATE TABLE settlement (
    settlement_id   text    PRIMARY KEY,
    arrival         bigint  GENERATED ALWAYS AS IDENTITY,
    notice_id       text    NOT NULL,
    outcome         text    NOT NULL CHECK (outcome IN ('settled', 'failed')),
    dated_on        date    NOT NULL,  -- value_date of a settlement, failed_on of a failure
    amount_fen      bigint  CHECK (amount_fen > 0),
    bank_reference  text,
    reason          text,
    applied         boolean NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (CASE outcome
           WHEN 'settled' THEN amount_fen IS NOT NULL AND bank_reference IS NOT NULL AND reason IS NULL
           ELSE amount_fen IS NULL AND bank_reference IS NULL AND reason IS NOT NULL END)
);
CREATE INDEX settlement_notice ON settlement (notice_id);
CREATE INDEX settlement_waiting ON settlement (notice_id, arrival) WHERE NOT applied;

-- "Reported at most once per as_of date": one row per obligation and check date.
CREATE TABLE shortfall_report (
    fiscal_entity_code      text   NOT NULL,
    fund                    text   NOT NULL,
    period                  text   NOT NULL,
    as_of                   date   NOT NULL,
    amount_outstanding_fen  bigint NOT NULL CHECK (amount_outstanding_fen > 0),
    reported_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fiscal_entity_code, fund, period, as_of),
    FOREIGN KEY (fiscal_entity_code, fund, period) REFERENCES obligation
);
CREATE INDEX shortfall_report_as_of ON shortfall_report (as_of);

-- The ledger (scheme in services/fund_transfer/domain/ledger.py). Accounts are text codes:
--   receivable:obligation/<entity>/<fund>/<period>  debit at appropriation, credit at settlement
--   payable:obligation/<entity>/<fund>/<period>     credit at appropriation, debit at settlement
--   receivable:request/<id>, payable:request/<id>   the same for transfer requests
--   bank:<entity>/<kind>                             settlement: debit target, credit source
-- So balance(receivable:<claim>) = due - settled = outstanding (negative: an excess, kept in
-- view). One journal per appropriation or request (2 entries), one per settlement (4 entries);
-- a failure moves no money and posts nothing. business_date: the appropriation's or request's
-- due date, or the settlement's value date.
CREATE TABLE journal (
    journal_id      text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('appropriation', 'request', 'settlement')),
    reference_id    text NOT NULL,
    business_date   date NOT NULL,
    posted_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE entry (
    journal_id  text     NOT NULL REFERENCES journal (journal_id) DEFERRABLE INITIALLY DEFERRED,
    line_no     smallint NOT NULL CHECK (line_no >= 1),
    account     text     NOT NULL,
    side        text     NOT NULL CHECK (side IN ('debit', 'credit')),
    amount_fen  bigint   NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (journal_id, line_no)
);
CREATE INDEX entry_account ON entry (account);

-- Balances are derived, never stored: debit-positive, so a receivable's balance is what is
-- still owed and a bank account's is what came in minus what went out.
CREATE VIEW account_balance AS
SELECT account,
       sum(amount_fen) FILTER (WHERE side = 'debit')  AS debit_fen,
       sum(amount_fen) FILTER (WHERE side = 'credit') AS credit_fen,
       sum(CASE side WHEN 'debit' THEN amount_fen ELSE -amount_fen END) AS balance_fen
FROM entry
GROUP BY account;

-- An unbalanced journal cannot commit: this runs at COMMIT (deferred), after every entry of the
-- transaction is in, for each journal touched; a journal without entries fails too.
CREATE FUNCTION journal_must_balance() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    debit_fen  bigint;
    credit_fen bigint;
BEGIN
    SELECT coalesce(sum(amount_fen) FILTER (WHERE side = 'debit'), 0),
           coalesce(sum(amount_fen) FILTER (WHERE side = 'credit'), 0)
      INTO debit_fen, credit_fen
      FROM entry
     WHERE journal_id = NEW.journal_id;
    IF debit_fen <> credit_fen OR debit_fen = 0 THEN
        RAISE EXCEPTION 'journal % does not balance: debits % fen, credits % fen',
                        NEW.journal_id, debit_fen, credit_fen
              USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER journal_balanced
    AFTER INSERT ON journal
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_must_balance();

CREATE CONSTRAINT TRIGGER entry_balanced
    AFTER INSERT ON entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_must_balance();

-- The ledger is append-only: a correction is a new journal, never an edit.
CREATE FUNCTION ledger_is_append_only() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER entry_append_only BEFORE UPDATE OR DELETE ON entry
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
