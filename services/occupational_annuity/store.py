"""SQL of occupational_annuity, on its own schema (the pool's search_path); `$1` parameters only.

Set-based: each call reads or writes every row a batch needs with one statement (`unnest`,
COPY), and speaks the typed nouns of model.py. Rows that two batches could race on are locked in
key order (declarations, period accounts, requests), and every "at most once" effect has a
unique key that the insert claims, so a replay or a concurrent zombie batch finds the work done
instead of doing it again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

import asyncpg

from services.occupational_annuity import domain
from services.occupational_annuity.domain import PersonnelBook, Requests
from services.occupational_annuity.model import (
    Backcredit,
    BackcreditCompletion,
    Credit,
    Declaration,
    DeclarationPayment,
    Entry,
    FundingCompletion,
    FundingMember,
    Ignored,
    Line,
    MemberLedger,
    NoticeOutcome,
    NotionalBalance,
    NotionalFunding,
    NotionalPosting,
    PaymentSettled,
    PeriodPosition,
    PersonnelEvent,
    Rate,
    Registration,
    Remittance,
    RemittanceCompletion,
    RemittancePlan,
    TopupAllocation,
    TopupBlocked,
    TopupFunding,
    TopupMember,
    TopupRound,
    TransferRequest,
)


async def lock_ledger(conn: asyncpg.Connection) -> None:
    """One batch at a time changes this schema's ledger. A member's notional money is read and
    changed by credits, interest postings, fundings and their completions, which arrive on
    different topics and could interleave across instances; the annuity stream is small (a
    record per paid declaration, notice, personnel event or command), so one transaction-scoped
    lock, taken first, costs little and leaves no lock order to get wrong."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/ledger'))")


# ---- declarations and payments -----------------------------------------------------------------

_UPSERT_DECLARATIONS = """
INSERT INTO declaration AS d (declaration_id, revision, scheme, fiscal_entity_code, fee_period,
                              unit_funding)
SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[])
ON CONFLICT (declaration_id) DO UPDATE
   SET revision = excluded.revision, scheme = excluded.scheme,
       fiscal_entity_code = excluded.fiscal_entity_code, fee_period = excluded.fee_period,
       unit_funding = excluded.unit_funding, registered_at = now()
 WHERE d.revision < excluded.revision AND d.credited_at IS NULL
RETURNING declaration_id
"""


async def upsert_declarations(
    conn: asyncpg.Connection, registrations: Sequence[Registration]
) -> set[str]:
    """Insert new declarations or apply a higher revision; returns the ids whose lines to replace.

    A revision arriving after the credit is ignored: the credited lines stay what was paid for.
    """
    ordered = sorted(registrations, key=lambda r: r.declaration_id)  # no deadlock between batches
    heads = [r.declaration for r in ordered]
    found = await conn.fetch(
        _UPSERT_DECLARATIONS, [r.declaration_id for r in ordered], [r.revision for r in ordered],
        [r.scheme for r in ordered], [h.fiscal_entity_code if h else None for h in heads],
        [h.fee_period if h else None for h in heads],
        [h.unit_funding if h else None for h in heads])
    return {row["declaration_id"] for row in found}


async def replace_lines(
    conn: asyncpg.Connection, declaration_ids: Sequence[str], declarations: Sequence[Declaration]
) -> None:
    await conn.execute(
        "DELETE FROM declaration_line WHERE declaration_id = ANY($1::text[])", list(declaration_ids)
    )
    lines = [(d.declaration_id, line_no, line.person_id, line.employer_fen, line.employee_fen)
             for d in declarations for line_no, line in enumerate(d.lines, start=1)]
    if lines:
        await conn.copy_records_to_table(
            "declaration_line", records=lines,
            columns=["declaration_id", "line_no", "person_id", "employer_fen", "employee_fen"],
        )


async def drop_waiting_payments(conn: asyncpg.Connection, declaration_ids: Sequence[str]) -> None:
    """Payments of declarations that turned out to be of another scheme are not ours to hold."""
    await conn.execute(
        "DELETE FROM settlement WHERE declaration_id = ANY($1::text[])", list(declaration_ids)
    )


_INSERT_PAYMENTS = """
INSERT INTO settlement (payment_id, declaration_id, revision, status, paid_on, amount_paid_fen,
                        amount_outstanding_fen)
SELECT t.payment_id, t.declaration_id, t.revision, t.status, t.paid_on, t.paid, t.outstanding
FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::date[], $6::bigint[], $7::bigint[])
     WITH ORDINALITY AS t(payment_id, declaration_id, revision, status, paid_on, paid, outstanding,
                          n)
WHERE NOT EXISTS (SELECT 1 FROM declaration d
                  WHERE d.declaration_id = t.declaration_id AND d.scheme <> 'occupational_annuity')
ORDER BY t.n
ON CONFLICT (payment_id) DO NOTHING
RETURNING payment_id
"""


async def insert_payments(conn: asyncpg.Connection, payments: Sequence[PaymentSettled]) -> set[str]:
    """Store new payments in arrival order; returns the payment ids that were new."""
    found = await conn.fetch(
        _INSERT_PAYMENTS, [p.payment_id for p in payments], [p.declaration_id for p in payments],
        [p.revision for p in payments], [p.status for p in payments],
        [p.paid_on for p in payments], [p.amount_paid_fen for p in payments],
        [p.amount_outstanding_fen for p in payments])
    return {row["payment_id"] for row in found}


async def lock_annuity_declarations(
    conn: asyncpg.Connection, declaration_ids: Iterable[str]
) -> dict[str, tuple[Declaration, bool]]:
    """The annuity declarations among the ids, locked, with their lines and a credited flag."""
    heads = await conn.fetch(
        "SELECT declaration_id, revision, fiscal_entity_code, fee_period, unit_funding,"
        " credited_at IS NOT NULL AS credited FROM declaration"
        " WHERE declaration_id = ANY($1::text[]) AND scheme = 'occupational_annuity'"
        " ORDER BY declaration_id FOR UPDATE",
        sorted(set(declaration_ids)),
    )
    lines: dict[str, list[Line]] = {}
    for row in await conn.fetch(
        "SELECT declaration_id, person_id, employer_fen, employee_fen FROM declaration_line"
        " WHERE declaration_id = ANY($1::text[]) ORDER BY declaration_id, line_no",
        [h["declaration_id"] for h in heads if not h["credited"]],
    ):
        lines.setdefault(row["declaration_id"], []).append(
            Line(row["person_id"], row["employer_fen"], row["employee_fen"]))
    return {
        h["declaration_id"]: (
            Declaration(h["declaration_id"], h["revision"], h["fiscal_entity_code"],
                        h["fee_period"], h["unit_funding"],
                        tuple(lines.get(h["declaration_id"], ()))),
            h["credited"],
        )
        for h in heads
    }


async def load_payments(
    conn: asyncpg.Connection, declaration_ids: Iterable[str]
) -> dict[str, list[DeclarationPayment]]:
    found: dict[str, list[DeclarationPayment]] = {}
    for row in await conn.fetch(
        "SELECT payment_id, declaration_id, revision, status, uncredited_reported FROM settlement"
        " WHERE declaration_id = ANY($1::text[]) ORDER BY declaration_id, arrival",
        list(declaration_ids),
    ):
        found.setdefault(row["declaration_id"], []).append(DeclarationPayment(
            row["payment_id"], row["declaration_id"], row["revision"], row["status"],
            row["uncredited_reported"]))
    return found


async def mark_uncredited_reported(conn: asyncpg.Connection, payment_ids: Sequence[str]) -> None:
    if payment_ids:
        await conn.execute(
            "UPDATE settlement SET uncredited_reported = true WHERE payment_id = ANY($1::text[])",
            list(payment_ids),
        )


# ---- credits and the journal -------------------------------------------------------------------

_INSERT_CREDITS = """
INSERT INTO credit (declaration_id, revision, payment_id, fiscal_entity_code, fee_period,
                    unit_funding, individual_real_fen, unit_real_fen, unit_notional_fen,
                    topup_state)
SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::bigint[], $8::bigint[], $9::bigint[], $10::text[])
ON CONFLICT (declaration_id) DO NOTHING
RETURNING declaration_id
"""


async def insert_credits(
    conn: asyncpg.Connection, credits: Sequence[Credit], topup_states: Mapping[str, str]
) -> set[str]:
    """Claim one credit per declaration; returns the declarations credited by this call."""
    heads = [c.declaration for c in credits]
    found = await conn.fetch(
        _INSERT_CREDITS, [d.declaration_id for d in heads], [d.revision for d in heads],
        [c.payment_id for c in credits], [d.fiscal_entity_code for d in heads],
        [d.fee_period for d in heads], [d.unit_funding for d in heads],
        [c.total("individual_real") for c in credits], [c.total("unit_real") for c in credits],
        [c.total("unit_notional") for c in credits],
        [topup_states[d.declaration_id] for d in heads])
    claimed = {row["declaration_id"] for row in found}
    await conn.execute(
        "UPDATE declaration SET credited_at = now() WHERE declaration_id = ANY($1::text[])",
        sorted(claimed),
    )
    return claimed


async def insert_entries(conn: asyncpg.Connection, entries: Sequence[Entry]) -> None:
    """Journal rows, and the members they open."""
    if not entries:
        return
    await conn.execute(
        "INSERT INTO member (person_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        sorted({entry.person_id for entry in entries}),
    )
    await conn.copy_records_to_table(
        "entry", records=[(e.person_id, e.sub_ledger, e.amount_fen, e.fiscal_entity_code,
                           e.fee_period, e.effective_on, e.source_kind, e.source_id)
                          for e in entries],
        columns=["person_id", "sub_ledger", "amount_fen", "fiscal_entity_code", "fee_period",
                 "effective_on", "source_kind", "source_id"],
    )


async def add_collected(conn: asyncpg.Connection, collected: Mapping[tuple[str, str], int]) -> None:
    """Funded money newly credited per (entity, period); sorted so batches lock in one order."""
    keys = sorted(collected)
    await conn.execute(
        "INSERT INTO period_account AS p (fiscal_entity_code, fee_period, collected_fen)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])"
        " ON CONFLICT (fiscal_entity_code, fee_period)"
        " DO UPDATE SET collected_fen = p.collected_fen + excluded.collected_fen",
        [k[0] for k in keys], [k[1] for k in keys], [collected[k] for k in keys],
    )


# ---- remittance --------------------------------------------------------------------------------


async def lock_unrequested_periods(conn: asyncpg.Connection) -> list[PeriodPosition]:
    rows = await conn.fetch(
        "SELECT fiscal_entity_code, fee_period, collected_fen, requested_fen, remittance_count"
        " FROM period_account WHERE requested_fen < collected_fen"
        " AND fiscal_entity_code <> '150000' ORDER BY fiscal_entity_code, fee_period FOR UPDATE"
    )
    return [PeriodPosition(*row) for row in rows]


async def insert_remittances(conn: asyncpg.Connection, plans: Sequence[RemittancePlan]) -> None:
    await conn.execute(
        "INSERT INTO remittance (remittance_id, fiscal_entity_code, fee_period, sequence,"
        " amount_fen, requested_on, due_on, status)"
        " SELECT *, 'requested' FROM unnest($1::text[], $2::text[], $3::text[], $4::int[],"
        " $5::bigint[], $6::date[], $7::date[])",
        [p.remittance_id for p in plans], [p.fiscal_entity_code for p in plans],
        [p.fee_period for p in plans], [p.sequence for p in plans], [p.amount_fen for p in plans],
        [p.requested_on for p in plans], [p.due_on for p in plans],
    )
    await conn.execute(
        "UPDATE period_account p SET requested_fen = p.requested_fen + t.amount,"
        " remittance_count = p.remittance_count + 1"
        " FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(entity, period, amount)"
        " WHERE p.fiscal_entity_code = t.entity AND p.fee_period = t.period",
        [p.fiscal_entity_code for p in plans], [p.fee_period for p in plans],
        [p.amount_fen for p in plans],
    )


async def open_remittances(conn: asyncpg.Connection) -> list[Remittance]:
    rows = await conn.fetch(
        "SELECT remittance_id, fiscal_entity_code, fee_period, sequence, amount_fen, due_on,"
        " status FROM remittance WHERE status = 'requested'"
        " ORDER BY fiscal_entity_code, fee_period, sequence")
    return [Remittance(*row) for row in rows]


async def claim_overdue_reports(
    conn: asyncpg.Connection, remittance_ids: Sequence[str], as_of: dt.date
) -> set[str]:
    """At most one overdue report per remittance and as_of date."""
    found = await conn.fetch(
        "INSERT INTO remittance_overdue (remittance_id, as_of)"
        " SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING RETURNING remittance_id",
        list(remittance_ids), as_of,
    )
    return {row["remittance_id"] for row in found}


async def complete_remittances(
    conn: asyncpg.Connection, completions: Sequence[RemittanceCompletion]
) -> None:
    if completions:
        await conn.execute(
            "UPDATE remittance r SET status = 'completed', notice_id = t.notice_id,"
            " value_date = t.value_date, on_time = t.on_time"
            " FROM unnest($1::text[], $2::text[], $3::date[], $4::bool[])"
            "   AS t(remittance_id, notice_id, value_date, on_time)"
            " WHERE r.remittance_id = t.remittance_id",
            [c.remittance.remittance_id for c in completions],
            [c.notice_id for c in completions], [c.value_date for c in completions],
            [c.on_time for c in completions],
        )


# ---- interest top-up ---------------------------------------------------------------------------


async def lock_pending_topup_credits(conn: asyncpg.Connection) -> dict[tuple[str, str], list[str]]:
    """Credits collected before investment start and not yet assessed, by (entity, period)."""
    rows = await conn.fetch(
        "SELECT declaration_id, fiscal_entity_code, fee_period FROM credit"
        " WHERE topup_state = 'pending' ORDER BY declaration_id FOR UPDATE"
    )
    found: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        found.setdefault((row["fiscal_entity_code"], row["fee_period"]), []).append(
            row["declaration_id"])
    return found


async def principals(
    conn: asyncpg.Connection, declaration_ids: Sequence[str]
) -> dict[tuple[str, str], dict[str, int]]:
    """Funded credits (individual_real + unit_real) per member, by (entity, period)."""
    rows = await conn.fetch(
        "SELECT fiscal_entity_code, fee_period, person_id, sum(amount_fen)::bigint FROM entry"
        " WHERE source_kind = 'contribution' AND source_id = ANY($1::text[])"
        " AND sub_ledger IN ('individual_real', 'unit_real')"
        " GROUP BY fiscal_entity_code, fee_period, person_id",
        list(declaration_ids),
    )
    found: dict[tuple[str, str], dict[str, int]] = {}
    for entity, period, person_id, principal_fen in rows:
        found.setdefault((entity, period), {})[person_id] = principal_fen
    return found


async def lock_topup_counts(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    ordered = sorted(keys)
    rows = await conn.fetch(
        "SELECT p.fiscal_entity_code, p.fee_period, p.topup_count FROM period_account p"
        " JOIN unnest($1::text[], $2::text[]) AS k(e, f)"
        " ON p.fiscal_entity_code = k.e AND p.fee_period = k.f"
        " ORDER BY p.fiscal_entity_code, p.fee_period FOR UPDATE OF p",
        [k[0] for k in ordered], [k[1] for k in ordered],
    )
    return {(row[0], row[1]): row[2] for row in rows}


async def save_topups(conn: asyncpg.Connection, decided: TopupRound, as_of: dt.date) -> None:
    """A check's assessments with their members, the credits they cover, the periods held."""
    assessments = [a for a, _ in decided.assessed]
    await _hold_topups(conn, decided.blocked, as_of)
    await conn.execute(
        "UPDATE credit SET topup_state = 'not_applicable' WHERE declaration_id = ANY($1::text[])",
        list(decided.not_applicable))
    if not assessments:
        return
    await conn.execute(
        "INSERT INTO topup_assessment (assessment_id, fiscal_entity_code, fee_period, sequence,"
        " interest_from, interest_to, total_fen, assessed_on, funding_due_on, rule_version, status)"
        " SELECT a, e, p, s, f, t, total, $8, d, v,"
        "  CASE WHEN total > 0 THEN 'funding' ELSE 'nothing_to_fund' END"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::date[], $6::date[],"
        "  $7::bigint[], $9::date[], $10::text[]) AS x(a, e, p, s, f, t, total, d, v)",
        [a.assessment_id for a in assessments], [a.fiscal_entity_code for a in assessments],
        [a.fee_period for a in assessments], [a.sequence for a in assessments],
        [a.interest_from for a in assessments], [a.interest_to for a in assessments],
        [a.total_fen for a in assessments], as_of, [a.funding_due_on for a in assessments],
        [a.rule_version for a in assessments],
    )
    await conn.copy_records_to_table(
        "topup_member", columns=["assessment_id", "person_id", "principal_fen", "interest_fen"],
        records=[(a.assessment_id, m.person_id, m.principal_fen, m.interest_fen)
                 for a in assessments for m in a.members],
    )
    await _mark_assessed(conn, decided)


async def _mark_assessed(conn: asyncpg.Connection, decided: TopupRound) -> None:
    covered = [(a.assessment_id, d) for a, ids in decided.assessed for d in ids]
    await conn.execute(
        "UPDATE credit c SET topup_state = 'assessed', topup_assessment_id = t.a"
        " FROM unnest($1::text[], $2::text[]) AS t(a, d) WHERE c.declaration_id = t.d",
        [a for a, _ in covered], [d for _, d in covered])
    keys = [(a.fiscal_entity_code, a.fee_period) for a, _ in decided.assessed]
    await conn.execute(
        "UPDATE period_account p SET topup_count = p.topup_count + 1"
        " FROM unnest($1::text[], $2::text[]) AS t(e, f)"
        " WHERE p.fiscal_entity_code = t.e AND p.fee_period = t.f",
        [k[0] for k in keys], [k[1] for k in keys])
    await conn.execute(
        "DELETE FROM topup_hold h USING unnest($1::text[], $2::text[]) AS t(e, f)"
        " WHERE h.fiscal_entity_code = t.e AND h.fee_period = t.f",
        [k[0] for k in keys], [k[1] for k in keys])


async def _hold_topups(
    conn: asyncpg.Connection, blocked: Sequence[TopupBlocked], as_of: dt.date
) -> None:
    if blocked:
        await conn.executemany(
            "INSERT INTO topup_hold AS h (fiscal_entity_code, fee_period, missing_years,"
            " first_seen_on, last_seen_on) VALUES ($1, $2, $3, $4, $4)"
            " ON CONFLICT (fiscal_entity_code, fee_period) DO UPDATE"
            " SET missing_years = excluded.missing_years,"
            " last_seen_on = greatest(h.last_seen_on, excluded.last_seen_on)",
            [(b.fiscal_entity_code, b.fee_period, list(b.missing_years), as_of)
             for b in blocked],
        )


async def mark_allocated(conn: asyncpg.Connection, allocations: Sequence[TopupAllocation]) -> None:
    if allocations:
        await conn.execute(
            "UPDATE topup_assessment a SET status = 'allocated', notice_id = t.n"
            " FROM unnest($1::text[], $2::text[]) AS t(a, n) WHERE a.assessment_id = t.a",
            [a.funding.assessment_id for a in allocations],
            [a.notice_id for a in allocations])


# ---- transfer notices --------------------------------------------------------------------------


async def insert_transfer_requests(
    conn: asyncpg.Connection, requests: Sequence[TransferRequest]
) -> None:
    if requests:
        await conn.execute(
            "INSERT INTO transfer_request (request_id, purpose, fiscal_entity_code, amount_fen)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])",
            [r.request_id for r in requests], [r.purpose for r in requests],
            [r.fiscal_entity_code for r in requests], [r.amount_fen for r in requests])


async def save_transfer_requests(
    conn: asyncpg.Connection, requests: Sequence[TransferRequest]
) -> None:
    if requests:
        await conn.execute(
            "UPDATE transfer_request r SET settled_fen = t.settled, completed_by = t.notice,"
            " value_date = t.value_date"
            " FROM unnest($1::text[], $2::bigint[], $3::text[], $4::date[])"
            "   AS t(request_id, settled, notice, value_date)"
            " WHERE r.request_id = t.request_id",
            [r.request_id for r in requests], [r.settled_fen for r in requests],
            [r.completed_by for r in requests], [r.value_date for r in requests])


async def lock_requests(conn: asyncpg.Connection, ids: Iterable[str]) -> Requests:
    """Our requests among the ids, locked in key order, with the remittances and top-up
    fundings they pay for."""
    rows = await conn.fetch(
        "SELECT request_id, purpose, fiscal_entity_code, amount_fen, settled_fen, completed_by,"
        " value_date FROM transfer_request WHERE request_id = ANY($1::text[])"
        " ORDER BY request_id FOR UPDATE", sorted(set(ids)))
    transfers = {row["request_id"]: TransferRequest(*row) for row in rows}
    wanted = sorted(transfers)
    rows = await conn.fetch(
        "SELECT remittance_id, fiscal_entity_code, fee_period, sequence, amount_fen, due_on,"
        " status FROM remittance WHERE remittance_id = ANY($1::text[])"
        " ORDER BY remittance_id FOR UPDATE", wanted)
    remittances = {row["remittance_id"]: Remittance(*row) for row in rows}
    rows = await conn.fetch(
        "SELECT assessment_id, fiscal_entity_code, fee_period, total_fen, status"
        " FROM topup_assessment WHERE assessment_id = ANY($1::text[])"
        " ORDER BY assessment_id FOR UPDATE", wanted)
    members: dict[str, list[TopupMember]] = {}
    for member in await conn.fetch(
        "SELECT assessment_id, person_id, principal_fen, interest_fen FROM topup_member"
        " WHERE assessment_id = ANY($1::text[]) ORDER BY assessment_id, person_id",
        [row["assessment_id"] for row in rows],
    ):
        members.setdefault(member["assessment_id"], []).append(TopupMember(
            member["person_id"], member["principal_fen"], member["interest_fen"]))
    fundings = {row["assessment_id"]: TopupFunding(
        row["assessment_id"], row["fiscal_entity_code"], row["fee_period"], row["total_fen"],
        row["status"], tuple(members.get(row["assessment_id"], ()))) for row in rows}
    return Requests(transfers, remittances, fundings, await _lock_fundings(conn, wanted),
                    await _lock_backcredits(conn, wanted))


_CLAIM_NOTICES = """
INSERT INTO transfer_notice (notice_id, outcome, purpose, covers, amount_fen, amount_settled_fen,
                             value_date, reason, replaced_by)
SELECT n, o, p, ARRAY(SELECT jsonb_array_elements_text(c)), a, s, v, r, b
FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::bigint[], $6::bigint[],
            $7::date[], $8::text[], $9::text[]) WITH ORDINALITY AS t(n, o, p, c, a, s, v, r, b, k)
ORDER BY k
ON CONFLICT DO NOTHING
RETURNING notice_id
"""


async def claim_notices(conn: asyncpg.Connection, outcomes: Sequence[NoticeOutcome]) -> set[str]:
    """Record each notice outcome once; returns the notice ids not handled before (a notice
    twice in one batch is claimed by its first occurrence)."""
    found = await conn.fetch(
        _CLAIM_NOTICES,
        [o.notice_id for o in outcomes], [o.result for o in outcomes],
        [o.purpose for o in outcomes], [json.dumps(list(o.covers)) for o in outcomes],
        [o.amount_fen for o in outcomes], [o.amount_settled_fen for o in outcomes],
        [o.value_date for o in outcomes], [o.reason for o in outcomes],
        [o.replaced_by for o in outcomes],
    )
    return {row["notice_id"] for row in found}


# ---- 做实 and 补记 ------------------------------------------------------------------------------

_MEMBER_LEDGERS = """
SELECT w.person_id, w.fiscal_entity_code, c.first_credit_on, n.effective, n.amounts,
       f.person_id IS NOT NULL AS funded, i.years, i.interest
FROM unnest($1::text[], $2::text[]) AS w(person_id, fiscal_entity_code)
LEFT JOIN LATERAL (
    SELECT min(e.effective_on) AS first_credit_on FROM entry e
    WHERE e.person_id = w.person_id AND e.fiscal_entity_code = w.fiscal_entity_code
      AND e.source_kind = 'contribution') c ON true
LEFT JOIN LATERAL (
    SELECT array_agg(e.effective_on ORDER BY e.entry_id) AS effective,
           array_agg(e.amount_fen ORDER BY e.entry_id) AS amounts FROM entry e
    WHERE e.person_id = w.person_id AND e.fiscal_entity_code = w.fiscal_entity_code
      AND e.sub_ledger = 'unit_notional') n ON true
LEFT JOIN LATERAL (
    SELECT array_agg(y ORDER BY y) AS years, array_agg(fen ORDER BY y) AS interest
    FROM (SELECT extract(year FROM e.effective_on)::int AS y, sum(e.amount_fen)::bigint AS fen
          FROM entry e
          WHERE e.person_id = w.person_id AND e.fiscal_entity_code = w.fiscal_entity_code
            AND e.source_kind IN ('notional_interest', 'notional_adjustment')
          GROUP BY 1) by_year) i ON true
LEFT JOIN funded_member f
       ON f.person_id = w.person_id AND f.fiscal_entity_code = w.fiscal_entity_code
"""


async def member_ledgers(
    conn: asyncpg.Connection, members: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], MemberLedger]:
    """What the ledger knows of each (person, entity): first credit, notional entries, funded."""
    wanted = sorted(set(members))
    rows = await conn.fetch(_MEMBER_LEDGERS, [m[0] for m in wanted], [m[1] for m in wanted])
    return {(row["person_id"], row["fiscal_entity_code"]): MemberLedger(
        row["person_id"], row["fiscal_entity_code"], row["first_credit_on"],
        tuple(zip(row["effective"] or (), row["amounts"] or (), strict=True)), row["funded"],
        tuple(zip(row["years"] or (), row["interest"] or (), strict=True)))
        for row in rows}


async def entity_members(conn: asyncpg.Connection, fiscal_entity_code: str) -> list[MemberLedger]:
    """Every member of the entity who ever had notional money."""
    rows = await conn.fetch(
        "SELECT DISTINCT person_id FROM entry WHERE fiscal_entity_code = $1"
        " AND sub_ledger = 'unit_notional'", fiscal_entity_code)
    ledgers = await member_ledgers(conn, [(row["person_id"], fiscal_entity_code)
                                          for row in rows])
    return list(ledgers.values())


async def load_personnel(
    conn: asyncpg.Connection, events: Sequence[PersonnelEvent]
) -> PersonnelBook:
    rows = await conn.fetch(
        "SELECT p.kind, p.event_id, p.content_hash FROM personnel_event p"
        " JOIN unnest($1::text[], $2::text[]) AS w(kind, event_id) USING (kind, event_id)",
        [e.kind for e in events], [e.event_id for e in events])
    members = await member_ledgers(conn, [
        (e.person_id, e.fiscal_entity_code) for e in events
        if e.person_id is not None and e.fiscal_entity_code is not None])
    return PersonnelBook(members, {(row[0], row[1]): row[2] for row in rows})


async def save_personnel(conn: asyncpg.Connection, book: PersonnelBook) -> None:
    events = book.new_events
    if events:
        await conn.execute(
            "INSERT INTO personnel_event (kind, event_id, content_hash, person_id,"
            " fiscal_entity_code, dated_on)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[],"
            " $6::date[])",
            [e.kind for e in events], [e.event_id for e in events],
            [e.content_hash for e in events], [e.person_id for e in events],
            [e.fiscal_entity_code for e in events], [e.dated_on for e in events])
    await save_fundings(conn, book.fundings)
    await _save_backcredits(conn, book.backcredits)


async def save_fundings(conn: asyncpg.Connection, fundings: Sequence[NotionalFunding]) -> None:
    """New fundings, the members they claim (at most once per entity: the key refuses a
    second claim), and their transfer requests."""
    if not fundings:
        return
    await conn.execute(
        "INSERT INTO notional_funding (funding_id, fiscal_entity_code, cause, cause_id, as_of,"
        " due_on, total_fen, status)"
        " SELECT *, 'requested' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
        " $5::date[], $6::date[], $7::bigint[])",
        [f.funding_id for f in fundings], [f.fiscal_entity_code for f in fundings],
        [f.cause for f in fundings], [f.cause_id for f in fundings],
        [f.as_of for f in fundings], [f.due_on for f in fundings],
        [f.total_fen for f in fundings])
    await conn.copy_records_to_table(
        "funded_member", columns=["person_id", "fiscal_entity_code", "funding_id", "amount_fen"],
        records=[(m.person_id, f.fiscal_entity_code, f.funding_id, m.amount_fen)
                 for f in fundings for m in f.members])
    await insert_transfer_requests(conn, [domain.funding_request(f) for f in fundings])


async def _save_backcredits(conn: asyncpg.Connection, backcredits: Sequence[Backcredit]) -> None:
    if not backcredits:
        return
    await conn.execute(
        "INSERT INTO backcredit (backcredit_id, request_id, person_id, fiscal_entity_code,"
        " amount_fen, recorded_on, due_on, document_no, status)"
        " SELECT *, 'requested' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
        " $5::bigint[], $6::date[], $7::date[], $8::text[])",
        [b.backcredit_id for b in backcredits], [b.request_id for b in backcredits],
        [b.person_id for b in backcredits], [b.fiscal_entity_code for b in backcredits],
        [b.amount_fen for b in backcredits], [b.recorded_on for b in backcredits],
        [b.due_on for b in backcredits], [b.document_no for b in backcredits])
    await insert_transfer_requests(conn, [domain.backcredit_request(b) for b in backcredits])


async def _lock_fundings(conn: asyncpg.Connection, ids: list[str]) -> dict[str, NotionalFunding]:
    rows = await conn.fetch(
        "SELECT funding_id, fiscal_entity_code, cause, cause_id, as_of, due_on, total_fen,"
        " status FROM notional_funding WHERE funding_id = ANY($1::text[])"
        " ORDER BY funding_id FOR UPDATE", ids)
    members: dict[str, list[FundingMember]] = {}
    for row in await conn.fetch(
        "SELECT funding_id, person_id, amount_fen FROM funded_member"
        " WHERE funding_id = ANY($1::text[]) ORDER BY funding_id, person_id", ids,
    ):
        members.setdefault(row["funding_id"], []).append(
            FundingMember(row["person_id"], row["amount_fen"]))
    return {row["funding_id"]: NotionalFunding(
        row["funding_id"], row["fiscal_entity_code"], row["cause"], row["cause_id"],
        row["as_of"], row["due_on"], tuple(members.get(row["funding_id"], ())),
        row["total_fen"], row["status"]) for row in rows}


async def _lock_backcredits(conn: asyncpg.Connection, ids: list[str]) -> dict[str, Backcredit]:
    rows = await conn.fetch(
        "SELECT backcredit_id, request_id, person_id, fiscal_entity_code, amount_fen,"
        " recorded_on, due_on, document_no, status FROM backcredit"
        " WHERE request_id = ANY($1::text[]) ORDER BY request_id FOR UPDATE", ids)
    return {row["request_id"]: Backcredit(*row) for row in rows}


_COMPLETE_FUNDINGS = """
UPDATE notional_funding x SET status = 'completed', notice_id = t.n, value_date = t.v
FROM unnest($1::text[], $2::text[], $3::date[]) AS t(i, n, v) WHERE x.funding_id = t.i
"""
_COMPLETE_BACKCREDITS = """
UPDATE backcredit x SET status = 'completed', notice_id = t.n, value_date = t.v
FROM unnest($1::text[], $2::text[], $3::date[]) AS t(i, n, v) WHERE x.backcredit_id = t.i
"""


async def complete_fundings(
    conn: asyncpg.Connection, fundings: Sequence[FundingCompletion],
    backcredits: Sequence[BackcreditCompletion],
) -> None:
    """Mark completed fundings and back-credits with the notice and value date that did it."""
    for sql, done in ((_COMPLETE_FUNDINGS, [(c.funding.funding_id, c) for c in fundings]),
                      (_COMPLETE_BACKCREDITS,
                       [(c.backcredit.backcredit_id, c) for c in backcredits])):
        if done:
            await conn.execute(sql, [i for i, _ in done], [c.notice_id for _, c in done],
                               [c.value_date for _, c in done])


# ---- notional interest -------------------------------------------------------------------------


async def notional_balances(
    conn: asyncpg.Connection, cutoff: dt.date, year: int
) -> list[NotionalBalance]:
    """unit_notional money effective before the cutoff, for members not yet posted that year."""
    rows = await conn.fetch(
        "SELECT e.person_id, e.fiscal_entity_code, sum(e.amount_fen)::bigint FROM entry e"
        " WHERE e.sub_ledger = 'unit_notional' AND e.effective_on < $1"
        " AND NOT EXISTS (SELECT 1 FROM notional_posting p WHERE p.person_id = e.person_id"
        "   AND p.fiscal_entity_code = e.fiscal_entity_code AND p.year = $2)"
        # a member whose interest of the year came as an adjustment has had it too
        " AND NOT EXISTS (SELECT 1 FROM entry x WHERE x.person_id = e.person_id"
        "   AND x.fiscal_entity_code = e.fiscal_entity_code"
        "   AND x.source_kind = 'notional_adjustment' AND x.effective_on = make_date($2, 12, 31))"
        " GROUP BY e.person_id, e.fiscal_entity_code",
        cutoff, year,
    )
    return [NotionalBalance(*row) for row in rows]


async def claim_notional_postings(
    conn: asyncpg.Connection, postings: Sequence[NotionalPosting], year: int, rate: str,
    command_id: str,
) -> set[tuple[str, str]]:
    """Once per (member, entity, year): returns the pairs this call posted."""
    rows = await conn.fetch(
        "INSERT INTO notional_posting (person_id, fiscal_entity_code, year, balance_fen,"
        " interest_fen, rate, command_id)"
        " SELECT p, e, $5, b, i, $6, $7"
        " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS t(p, e, b, i)"
        " ON CONFLICT DO NOTHING RETURNING person_id, fiscal_entity_code",
        [p.person_id for p in postings], [p.fiscal_entity_code for p in postings],
        [p.balance_fen for p in postings], [p.interest_fen for p in postings],
        year, rate, command_id,
    )
    return {(row[0], row[1]) for row in rows}


async def posted_years(conn: asyncpg.Connection) -> dict[int, Rate]:
    """Every year posted, with the rate it was posted at."""
    rows = await conn.fetch("SELECT year, rate FROM notional_year ORDER BY year")
    return {row["year"]: Rate(row["rate"], Fraction(row["rate"])) for row in rows}


async def earliest_notional_on(conn: asyncpg.Connection) -> dt.date | None:
    value: dt.date | None = await conn.fetchval(
        "SELECT min(effective_on) FROM entry WHERE sub_ledger = 'unit_notional'"
        " AND amount_fen > 0")
    return value


async def mark_year_posted(conn: asyncpg.Connection, year: int, rate: str,
                           command_id: str) -> None:
    await conn.execute(
        "INSERT INTO notional_year (year, rate, command_id) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING", year, rate, command_id)


# ---- bookkeeping -------------------------------------------------------------------------------


async def record_ignored(conn: asyncpg.Connection, ignored: Sequence[Ignored]) -> None:
    if ignored:
        await conn.executemany(
            "INSERT INTO ignored_event (source, event_id, event_type, reasons)"
            " VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING",
            [(i.source, i.event_id, i.unreadable.event_type, json.dumps(i.unreadable.reasons))
             for i in ignored],
        )


async def gauges(conn: asyncpg.Connection) -> list[tuple[str, str, int]]:
    """Per fiscal entity: remittances requested and not completed, and their fen; of those, the
    ones past their due day today (Asia/Shanghai, the session's time zone), which an alert needs
    without waiting for the next deadline check's `annuity.remittance.overdue.v1`."""
    rows = await conn.fetch(
        "SELECT fiscal_entity_code, count(*) AS pending_count, sum(amount_fen) AS pending_fen,"
        " count(*) FILTER (WHERE due_on < current_date) AS overdue_count,"
        " coalesce(sum(amount_fen) FILTER (WHERE due_on < current_date), 0) AS overdue_fen"
        " FROM remittance WHERE status = 'requested' GROUP BY fiscal_entity_code")
    return [
        gauge
        for row in rows
        for gauge in (("remittances_pending", row["fiscal_entity_code"], row["pending_count"]),
                      ("remittances_pending_fen", row["fiscal_entity_code"], row["pending_fen"]),
                      ("remittances_overdue", row["fiscal_entity_code"], row["overdue_count"]),
                      ("remittances_overdue_fen", row["fiscal_entity_code"], row["overdue_fen"]))
    ]
