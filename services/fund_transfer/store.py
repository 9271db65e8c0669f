"""fund_transfer's SQL: load a batch's working set in a few queries, write its changes in bulk.

Concurrency: several instances may consume in one group, and a notice is reached from two
topics (its appropriation or request, and finance's settlements), so two batches can race on
one notice, one obligation or one id. Each batch first takes transaction-scoped advisory locks
on every id it may create or change (also ids not in the database yet, which a row lock cannot
cover: a settlement waiting for a notice that another batch is issuing), then reads existing
notices and obligations with FOR UPDATE in key order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any, Final, Literal

import asyncpg

from services.fund_transfer.domain import Needs, notice_ids_of
from services.fund_transfer.model import (
    Appropriation,
    Budget,
    Changes,
    Notice,
    Obligation,
    ObligationKey,
    ObligationState,
    Request,
    Rules,
    Settlement,
    WorkingSet,
)

_LOCK_SQL: Final = """
SELECT pg_advisory_xact_lock(h)
FROM (SELECT h FROM unnest($1::bigint[]) WITH ORDINALITY AS t(h, n) ORDER BY n) ordered
"""
_SETTLEMENTS_BY_ID: Final = """
SELECT settlement_id, notice_id, outcome, dated_on, amount_fen, bank_reference, reason, applied
FROM settlement WHERE settlement_id = ANY($1::text[])
"""
_SETTLEMENTS_WAITING: Final = """
SELECT settlement_id, notice_id, outcome, dated_on, amount_fen, bank_reference, reason, applied
FROM settlement WHERE notice_id = ANY($1::text[]) AND NOT applied ORDER BY arrival
"""
_NOTICES_FOR_UPDATE: Final = """
SELECT notice_id, attempt, purpose, origin, origin_id, fund, period, amount_fen, due_on,
       source_entity_code, source_kind, target_entity_code, target_kind, document_no, replaces,
       replaced_by, state, settled_fen, bank_references
FROM notice WHERE notice_id = ANY($1::text[]) ORDER BY notice_id FOR UPDATE
"""
# The obligations a batch names or reaches through a notice, plus, for a deadline check, every
# one still open past the latest check date: one locking read, in key order.
_OBLIGATIONS_FOR_UPDATE: Final = """
SELECT fiscal_entity_code, fund, period, amount_due_fen, due_on, settled_fen
FROM obligation
WHERE (fiscal_entity_code, fund, period) IN (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
   OR (due_on < $4::date AND settled_fen < amount_due_fen)
ORDER BY fiscal_entity_code, fund, period
FOR UPDATE
"""
_UPSERT_OBLIGATION: Final = """
INSERT INTO obligation (fiscal_entity_code, fund, period, amount_due_fen, due_on, settled_fen)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (fiscal_entity_code, fund, period) DO UPDATE
SET amount_due_fen = EXCLUDED.amount_due_fen, due_on = EXCLUDED.due_on,
    settled_fen = EXCLUDED.settled_fen, updated_at = now()
"""
_UPSERT_NOTICE: Final = """
INSERT INTO notice (notice_id, attempt, purpose, origin, origin_id, fund, period, amount_fen,
                    due_on, source_entity_code, source_kind, target_entity_code, target_kind,
                    document_no, replaces, replaced_by, state, settled_fen, bank_references)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (notice_id) DO UPDATE
SET replaced_by = EXCLUDED.replaced_by, state = EXCLUDED.state,
    settled_fen = EXCLUDED.settled_fen, bank_references = EXCLUDED.bank_references,
    updated_at = now()
"""
_UPSERT_SETTLEMENT: Final = """
INSERT INTO settlement (settlement_id, notice_id, outcome, dated_on, amount_fen, bank_reference,
                        reason, applied)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (settlement_id) DO UPDATE SET applied = EXCLUDED.applied
"""


async def load(conn: asyncpg.Connection, needs: Needs, rules: Rules) -> WorkingSet:
    ws = WorkingSet()
    await _lock(conn, _lock_names(needs))
    ws.appropriations = await _appropriations(conn, needs.appropriation_ids)
    ws.requests = await _requests(conn, needs.request_ids)
    for settlement in await _settlements_by_id(conn, needs.settlement_ids):
        ws.settlements[settlement.settlement_id] = settlement
    notice_ids = set(needs.notice_ids)
    await _load_notices(conn, ws, notice_ids)
    # A settlement names one notice; its replacements (same origin) may be issued in this batch.
    more = {nid for n in list(ws.notices.values())
            for nid in notice_ids_of(n.origin, n.origin_id, rules)} - notice_ids
    if more:
        await _lock(conn, (f"notice:{nid}" for nid in more))
        await _load_notices(conn, ws, more)
        notice_ids |= more
    for settlement in await _waiting(conn, notice_ids):
        ws.add_waiting(settlement)
    await _load_budgets(conn, ws, needs, rules)
    await _load_obligations(conn, ws, needs)
    if needs.deadline_dates:
        ws.shortfalls_reported = await _reported(conn, "shortfall_report", needs.deadline_dates)
        ws.gaps_reported = await _reported(conn, "budget_gap_report", needs.deadline_dates)
    return ws


_BUDGET_COLUMNS: Final = ("budget_id, revision, fiscal_entity_code, fund, year,"
                          " amount_per_month_fen, document_no")
# The revision in force of each (entity, fund, year): the highest.
_BUDGETS_IN_FORCE: Final = f"""
SELECT DISTINCT ON (fiscal_entity_code, fund, year) {_BUDGET_COLUMNS} FROM budget
WHERE (fiscal_entity_code, fund, year) IN (
        SELECT * FROM unnest($1::text[], $2::text[], $3::int[]))
   OR year <= $4
ORDER BY fiscal_entity_code, fund, year, revision DESC
"""  # noqa: S608  # column names only, no input


async def _load_budgets(conn: asyncpg.Connection, ws: WorkingSet, needs: Needs,
                        rules: Rules) -> None:
    """Budgets the batch names, and for a deadline check every one in force up to its year; the
    obligations of the months a check may find short join the batch's obligations."""
    if needs.budget_ids:
        rows = await conn.fetch(f"SELECT {_BUDGET_COLUMNS} FROM budget"  # noqa: S608
                                " WHERE budget_id = ANY($1::text[])", list(needs.budget_ids))
        ws.budgets = {row["budget_id"]: Budget(**dict(row)) for row in rows}
    latest = max(needs.deadline_dates) if needs.deadline_dates else None
    if not needs.budget_keys and latest is None:
        return
    keys = list(needs.budget_keys)
    rows = await conn.fetch(_BUDGETS_IN_FORCE, [k[0] for k in keys], [k[1] for k in keys],
                            [k[2] for k in keys], latest.year if latest else 0)
    for row in rows:
        budget = Budget(**dict(row))
        ws.budgets_in_force[budget.key] = budget
        if latest is not None:
            needs.obligation_keys.update(
                (budget.fiscal_entity_code, budget.fund, period) for period in budget.periods()
                if rules.deadlines.appropriation_due_on(period) < latest)


def _lock_names(needs: Needs) -> list[str]:
    return [
        *(f"appropriation:{i}" for i in needs.appropriation_ids),
        *(f"request:{i}" for i in needs.request_ids),
        *(f"settlement:{i}" for i in needs.settlement_ids),
        *(f"notice:{i}" for i in needs.notice_ids),
        *("obligation:{}/{}/{}".format(*k) for k in needs.obligation_keys),
        *(f"budget:{i}" for i in needs.budget_ids),
        *("budget:{}/{}/{}".format(*k) for k in needs.budget_keys),
    ]


async def _lock(conn: asyncpg.Connection, names: Iterable[str]) -> None:
    """Advisory locks in one global order (by hash), so two batches cannot deadlock on them."""
    keys = sorted({_lock_key(name) for name in names})
    if keys:
        await conn.execute(_LOCK_SQL, keys)


def _lock_key(name: str) -> int:
    # A stable 64-bit key per name, computed here so the locks can be sorted before taking them.
    digest = hashlib.blake2b(f"fund_transfer/{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _appropriations(conn: asyncpg.Connection, ids: set[str]) -> dict[str, Appropriation]:
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT appropriation_id, fiscal_entity_code, fund, period, amount_fen, due_on,"
        " document_no FROM appropriation WHERE appropriation_id = ANY($1::text[])", list(ids))
    return {row["appropriation_id"]: Appropriation(**dict(row)) for row in rows}


async def _requests(conn: asyncpg.Connection, ids: set[str]) -> dict[str, Request]:
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT request_id, purpose, fund, period, amount_fen, source_entity_code, source_kind,"
        " target_entity_code, target_kind, due_on FROM transfer_request"
        " WHERE request_id = ANY($1::text[])", list(ids))
    return {row["request_id"]: _request(row) for row in rows}


def _request(row: asyncpg.Record) -> Request:
    return Request(
        request_id=row["request_id"], purpose=row["purpose"], fund=row["fund"],
        period=row["period"], amount_fen=row["amount_fen"],
        source=(row["source_entity_code"], row["source_kind"]),
        target=(row["target_entity_code"], row["target_kind"]), due_on=row["due_on"],
    )


async def _settlements_by_id(conn: asyncpg.Connection, ids: set[str]) -> list[Settlement]:
    if not ids:
        return []
    rows = await conn.fetch(_SETTLEMENTS_BY_ID, list(ids))
    return [Settlement(**dict(row)) for row in rows]


async def _waiting(conn: asyncpg.Connection, notice_ids: set[str]) -> list[Settlement]:
    if not notice_ids:
        return []
    rows = await conn.fetch(_SETTLEMENTS_WAITING, list(notice_ids))
    return [Settlement(**dict(row)) for row in rows]


async def _load_notices(conn: asyncpg.Connection, ws: WorkingSet, ids: set[str]) -> None:
    if not ids:
        return
    rows = await conn.fetch(_NOTICES_FOR_UPDATE, list(ids))
    for row in rows:
        ws.notices[row["notice_id"]] = _notice(row)


def _notice(row: asyncpg.Record) -> Notice:
    return Notice(
        notice_id=row["notice_id"], attempt=row["attempt"], purpose=row["purpose"],
        origin=row["origin"], origin_id=row["origin_id"], fund=row["fund"],
        period=row["period"], amount_fen=row["amount_fen"], due_on=row["due_on"],
        source=(row["source_entity_code"], row["source_kind"]),
        target=(row["target_entity_code"], row["target_kind"]),
        document_no=row["document_no"], replaces=row["replaces"],
        replaced_by=row["replaced_by"], state=row["state"], settled_fen=row["settled_fen"],
        bank_references=list(row["bank_references"]),
    )


async def _load_obligations(conn: asyncpg.Connection, ws: WorkingSet, needs: Needs) -> None:
    keys = set(needs.obligation_keys)
    keys.update(k for n in ws.notices.values() if (k := n.obligation_key) is not None)
    overdue_before = max(needs.deadline_dates) if needs.deadline_dates else None
    if not keys and overdue_before is None:
        return
    entity_codes, funds, periods = ([k[i] for k in keys] for i in range(3))
    rows = await conn.fetch(_OBLIGATIONS_FOR_UPDATE, entity_codes, funds, periods, overdue_before)
    for row in rows:
        obligation = Obligation(**dict(row))
        ws.obligations[obligation.key] = obligation


async def _reported(
    conn: asyncpg.Connection, table: Literal["shortfall_report", "budget_gap_report"],
    dates: set[dt.date],
) -> set[tuple[ObligationKey, dt.date]]:
    """What a deadline check of these dates already reported (each once per obligation/month
    and date), from one of the two report tables of the same shape."""
    rows = await conn.fetch(
        f"SELECT fiscal_entity_code, fund, period, as_of FROM {table}"  # noqa: S608 (a literal)
        " WHERE as_of = ANY($1::date[])", list(dates))
    return {((r["fiscal_entity_code"], r["fund"], r["period"]), r["as_of"]) for r in rows}


async def save(conn: asyncpg.Connection, changes: Changes) -> None:
    """Write what the batch changed: new rows inserted, changed rows upserted, ledger copied."""
    await _insert_appropriations(conn, changes.appropriations)
    await _insert_requests(conn, changes.requests)
    await _upsert_obligations(conn, list(changes.obligations.values()))
    await _upsert_notices(conn, list(changes.notices.values()))
    await _upsert_settlements(conn, list(changes.settlements.values()))
    await _insert_shortfalls(conn, changes.shortfalls)
    await _insert_journals(conn, changes)
    if changes.budgets:
        await conn.copy_records_to_table("budget", columns=[
            "budget_id", "revision", "fiscal_entity_code", "fund", "year",
            "amount_per_month_fen", "document_no"], records=[
            (b.budget_id, b.revision, b.fiscal_entity_code, b.fund, b.year,
             b.amount_per_month_fen, b.document_no) for b in changes.budgets])
    if changes.gaps:
        await conn.executemany(
            "INSERT INTO budget_gap_report (fiscal_entity_code, fund, period, as_of, kind,"
            " amount_short_fen) VALUES ($1, $2, $3, $4, $5, $6)",
            [(*key, as_of, kind, short_fen) for key, as_of, kind, short_fen in changes.gaps])


async def _insert_appropriations(conn: asyncpg.Connection, rows: list[Appropriation]) -> None:
    if rows:
        await conn.executemany(
            "INSERT INTO appropriation (appropriation_id, fiscal_entity_code, fund, period,"
            " amount_fen, due_on, document_no) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(a.appropriation_id, a.fiscal_entity_code, a.fund, a.period, a.amount_fen,
              a.due_on, a.document_no) for a in rows])


async def _insert_requests(conn: asyncpg.Connection, rows: list[Request]) -> None:
    if rows:
        await conn.executemany(
            "INSERT INTO transfer_request (request_id, purpose, fund, period, amount_fen,"
            " source_entity_code, source_kind, target_entity_code, target_kind, due_on)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [(r.request_id, r.purpose, r.fund, r.period, r.amount_fen, *r.source, *r.target,
              r.due_on) for r in rows])


async def _upsert_obligations(conn: asyncpg.Connection, rows: list[Obligation]) -> None:
    if rows:
        await conn.executemany(_UPSERT_OBLIGATION, [
            (o.fiscal_entity_code, o.fund, o.period, o.amount_due_fen, o.due_on, o.settled_fen)
            for o in rows])


async def _upsert_notices(conn: asyncpg.Connection, rows: list[Notice]) -> None:
    if rows:
        await conn.executemany(_UPSERT_NOTICE, [_notice_row(n) for n in rows])


def _notice_row(n: Notice) -> tuple[Any, ...]:
    return (n.notice_id, n.attempt, n.purpose, n.origin, n.origin_id, n.fund, n.period,
            n.amount_fen, n.due_on, *n.source, *n.target, n.document_no, n.replaces,
            n.replaced_by, n.state, n.settled_fen, n.bank_references)


async def _upsert_settlements(conn: asyncpg.Connection, rows: list[Settlement]) -> None:
    if rows:
        await conn.executemany(
            _UPSERT_SETTLEMENT, [(s.settlement_id, s.notice_id, s.outcome, s.dated_on, s.amount_fen,
              s.bank_reference, s.reason, s.applied) for s in rows])


async def _insert_shortfalls(
    conn: asyncpg.Connection, rows: list[tuple[ObligationKey, dt.date, int]]
) -> None:
    if rows:
        await conn.executemany(
            "INSERT INTO shortfall_report (fiscal_entity_code, fund, period, as_of,"
            " amount_outstanding_fen) VALUES ($1, $2, $3, $4, $5)",
            [(*key, as_of, outstanding_fen) for key, as_of, outstanding_fen in rows])


async def _insert_journals(conn: asyncpg.Connection, changes: Changes) -> None:
    if not changes.journals:
        return
    await conn.copy_records_to_table(
        "journal", columns=["journal_id", "kind", "reference_id", "business_date"],
        records=[(j.journal_id, j.kind, j.reference_id, j.business_date)
                 for j in changes.journals])
    await conn.copy_records_to_table(
        "entry", columns=["journal_id", "line_no", "account", "side", "amount_fen"],
        records=[(j.journal_id, line_no, e.account, e.side, e.amount_fen)
                 for j in changes.journals for line_no, e in enumerate(j.entries, start=1)])


async def gauges(conn: asyncpg.Connection) -> list[tuple[str, str, int]]:
    """Per fiscal entity: fen outstanding past due today (Asia/Shanghai), and fen overpaid."""
    rows = await conn.fetch(
        "SELECT fiscal_entity_code,"
        " sum(amount_due_fen - settled_fen) FILTER (WHERE settled_fen < amount_due_fen"
        "   AND due_on < current_date) AS overdue_fen,"
        " sum(settled_fen - amount_due_fen) FILTER (WHERE settled_fen > amount_due_fen)"
        "   AS excess_fen"
        " FROM obligation GROUP BY fiscal_entity_code")
    return [
        gauge
        for row in rows
        for gauge in (("obligation_overdue_outstanding_fen", row["fiscal_entity_code"],
                       row["overdue_fen"] or 0),
                      ("obligation_excess_fen", row["fiscal_entity_code"], row["excess_fen"] or 0))
    ]


# ---- the assessment of leagues and cities ------------------------------------------------------

# The subsidy obligations of a period with the value date of their last applied settlement,
# which is when the settled sum reached the amount due for those settled in full.
_ASSESSED_OBLIGATIONS: Final = """
SELECT o.fiscal_entity_code, o.fund, o.amount_due_fen, o.settled_fen, o.due_on,
       CASE WHEN o.settled_fen >= o.amount_due_fen THEN (
           SELECT max(s.dated_on) FROM notice n
           JOIN settlement s ON s.notice_id = n.notice_id AND s.applied AND s.outcome = 'settled'
           WHERE n.origin = 'appropriation' AND n.source_entity_code = o.fiscal_entity_code
             AND n.fund = o.fund AND n.period = o.period) END AS fulfilled_on
FROM obligation o WHERE o.period = $1
ORDER BY o.fiscal_entity_code, o.fund
"""


async def assessed_obligations(conn: asyncpg.Connection, period: str) -> list[ObligationState]:
    return [ObligationState(**dict(row)) for row in await conn.fetch(_ASSESSED_OBLIGATIONS, period)]


async def budgets_in_force(conn: asyncpg.Connection, year: int) -> list[Budget]:
    rows = await conn.fetch(
        f"SELECT DISTINCT ON (fiscal_entity_code, fund, year) {_BUDGET_COLUMNS} FROM budget"  # noqa: S608
        " WHERE year = $1 ORDER BY fiscal_entity_code, fund, year, revision DESC", year)
    return [Budget(**dict(row)) for row in rows]
