-- Every transfer this service asked fund_transfer for, whatever its purpose, with the money
-- settled so far over all the notices of the request: a notice settled in part that then fails
-- and its replacement for the remainder count together (CONTRACTS.md, annuity.ledger). The
-- request completes, once, when that sum reaches its amount; `completed_by` is the notice whose
-- settlement did it.
CREATE TABLE transfer_request (
    request_id          text    PRIMARY KEY,
    purpose             text    NOT NULL CHECK (purpose IN ('annuity_remittance',
                                                            'annuity_interest_topup')),
    fiscal_entity_code  text    NOT NULL CHECK (fiscal_entity_code ~ '^[0-9]{6}$'),
    amount_fen          bigint  NOT NULL CHECK (amount_fen > 0),
    settled_fen         bigint  NOT NULL DEFAULT 0 CHECK (settled_fen >= 0),
    completed_by        text,
    value_date          date,
    CHECK ((completed_by IS NULL) = (value_date IS NULL)),
    CHECK (completed_by IS NULL OR settled_fen >= amount_fen)
);

-- Requests made before this table: their settled money is what the notices recorded for them
-- reported. One that a replacement notice should have completed (the bug this table fixes)
-- keeps its settled money but stays open: a migration cannot publish its completion.
INSERT INTO transfer_request (request_id, purpose, fiscal_entity_code, amount_fen, settled_fen,
                              completed_by, value_date)
SELECT r.remittance_id, 'annuity_remittance', r.fiscal_entity_code, r.amount_fen,
       CASE WHEN r.status = 'completed' THEN greatest(r.amount_fen, n.settled_fen)
            ELSE n.settled_fen END,
       r.notice_id, r.value_date
FROM remittance r
CROSS JOIN LATERAL (SELECT coalesce(sum(t.amount_settled_fen), 0)::bigint AS settled_fen
                    FROM transfer_notice t WHERE r.remittance_id = ANY (t.covers)) n;

INSERT INTO transfer_request (request_id, purpose, fiscal_entity_code, amount_fen, settled_fen,
                              completed_by, value_date)
SELECT a.assessment_id, 'annuity_interest_topup', a.fiscal_entity_code, a.total_fen,
       CASE WHEN a.status = 'allocated' THEN greatest(a.total_fen, n.settled_fen)
            ELSE n.settled_fen END,
       CASE WHEN v.value_date IS NOT NULL THEN a.notice_id END, v.value_date
FROM topup_assessment a
CROSS JOIN LATERAL (SELECT coalesce(sum(t.amount_settled_fen), 0)::bigint AS settled_fen
                    FROM transfer_notice t WHERE a.assessment_id = ANY (t.covers)) n
LEFT JOIN transfer_notice v ON v.notice_id = a.notice_id
WHERE a.total_fen > 0;
