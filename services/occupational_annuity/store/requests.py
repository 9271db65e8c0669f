"""What this service asks fund_transfer for: remittances, top-ups, and every transfer request
with the money settled over its notices, loaded with what each one funds."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence

import asyncpg

from services.occupational_annuity.domain import Requests
from services.occupational_annuity.model import (
    Backcredit,
    BackcreditCompletion,
    FundingCompletion,
    FundingMember,
    NoticeOutcome,
    NotionalFunding,
    PeriodPosition,
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
