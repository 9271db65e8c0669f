"""Collection's SQL: whole-batch loads (one query each) and bulk writes (COPY and unnest).

Every statement names only this service's tables; the pool's search_path is its schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Final

import asyncpg

from services.collection.domain import Account, Book, OverdueRow, PaymentRecord
from services.collection.domain.annuity_base import Comparison, Finding, PeriodLine
from services.collection.domain.assessment import EntityFigures
from services.collection.domain.enterprise_annuity import CurrentFiling, EnterpriseBook, Totals
from services.collection.validation import Figures
from services.collection.validation.enterprise_annuity import EnterpriseAnnuityCheck
from shared.messaging import InboxRaceError

# Sorted, so two instances locking overlapping sets take the locks in the same order.
_LOCK_SQL: Final = """
SELECT * FROM declaration WHERE declaration_id = ANY($1::text[])
ORDER BY declaration_id FOR UPDATE
"""


async def lock_accounts(conn: asyncpg.Connection, ids: Sequence[str]) -> dict[str, Account]:
    """Lock and load the declaration rows that exist; the batch's serialization point.

    Ids without a row get one when the batch is saved (`save_book` inserts them first): the
    common case, a new declaration, then costs one write instead of an insert and an update.
    """
    if not ids:
        return {}
    rows = await conn.fetch(_LOCK_SQL, ids)
    return {row["declaration_id"]: _account(row) for row in rows}


def _account(row: asyncpg.Record) -> Account:
    figures = None
    if row["state"] == "registered":
        figures = Figures(
            revision=row["revision"], employer_uscc=row["employer_uscc"],
            region_code=row["region_code"], fiscal_entity_code=row["fiscal_entity_code"],
            scheme=row["scheme"], unit_funding=row["unit_funding"], fee_period=row["fee_period"],
            declared_on=row["declared_on"], due_on=row["due_on"], line_count=row["line_count"],
            base_total_fen=row["base_total_fen"], employer_total_fen=row["employer_total_fen"],
            employee_total_fen=row["employee_total_fen"], amount_due_fen=row["amount_due_fen"],
            rule_version=row["rule_version"],
        )
    return Account(
        declaration_id=row["declaration_id"], state=row["state"], figures=figures,
        amount_paid_fen=row["amount_paid_fen"], payment_count=row["payment_count"],
        waiting_count=row["waiting_payment_count"],
    )


async def load_revisions(
    conn: asyncpg.Connection, pairs: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], bytes]:
    """Content hashes of the (declaration id, revision) pairs already received."""
    pairs = list(pairs)
    if not pairs:
        return {}
    rows = await conn.fetch(
        "SELECT r.declaration_id, r.revision, r.content_hash FROM declaration_revision r"
        " JOIN unnest($1::text[], $2::bigint[]) AS t(declaration_id, revision)"
        " USING (declaration_id, revision)",
        [p[0] for p in pairs], [p[1] for p in pairs],
    )
    return {(row["declaration_id"], row["revision"]): row["content_hash"] for row in rows}


PAYMENT_FIELDS: Final = (
    "payment_id", "declaration_id", "content_hash", "state", "e_tax_voucher_no",
    "amount_paid_fen", "paid_on", "revision", "covered_fen", "days_late", "late_fee_fen",
)
_SELECT_PAYMENTS_SQL: Final = """
SELECT payment_id, declaration_id, content_hash, state, e_tax_voucher_no, amount_paid_fen,
       paid_on, revision, covered_fen, days_late, late_fee_fen
FROM payment
"""


def _payment(row: asyncpg.Record) -> PaymentRecord:
    return PaymentRecord(**{name: row[name] for name in PAYMENT_FIELDS})


async def load_payments(
    conn: asyncpg.Connection, payment_ids: Sequence[str], waiting_for: Sequence[str]
) -> tuple[dict[str, PaymentRecord], dict[str, list[PaymentRecord]]]:
    """Payments by id, and the payments waiting for the given declarations in arrival order.

    A waiting payment redelivered in this batch is one object in both maps, so the book's
    change to it is seen through either.
    """
    payments: dict[str, PaymentRecord] = {}
    if payment_ids:
        rows = await conn.fetch(
            _SELECT_PAYMENTS_SQL + "WHERE payment_id = ANY($1::text[])",
            payment_ids,
        )
        payments = {row["payment_id"]: _payment(row) for row in rows}
    waiting: dict[str, list[PaymentRecord]] = {}
    if waiting_for:
        rows = await conn.fetch(
            _SELECT_PAYMENTS_SQL + "WHERE state = 'waiting' AND declaration_id = ANY($1::text[])"
            " ORDER BY declaration_id, arrival",
            waiting_for,
        )
        for row in rows:
            record = payments.setdefault(row["payment_id"], _payment(row))
            waiting.setdefault(row["declaration_id"], []).append(record)
    return payments, waiting


async def save_book(conn: asyncpg.Connection, book: Book, stored_ids: set[str]) -> None:
    """Write everything the batch changed: a few statements whatever the batch's size.

    New declaration rows go first: if another instance created one of them meanwhile, the
    batch is retried before anything else was written, and then finds that row and locks it.
    """
    changed = list(book.changed_accounts.values())
    await _insert_accounts(conn, [a for a in changed if a.declaration_id not in stored_ids])
    await _update_accounts(conn, [a for a in changed if a.declaration_id in stored_ids])
    if book.new_revisions:
        await conn.copy_records_to_table(
            "declaration_revision", records=book.new_revisions,
            columns=["declaration_id", "revision", "content_hash", "outcome"],
        )
    if book.registered:
        await conn.copy_records_to_table(
            "declaration_line", records=_line_records(book), columns=[
                "declaration_id", "revision", "line_no", "person_id", "person_name",
                "base_fen", "employer_amount_fen", "employee_amount_fen",
            ],
        )
    payments = book.touched_payments.values()
    await _insert_payments(conn, [p for p in payments if p.payment_id in book.created_payment_ids])
    await _update_payments(
        conn, [p for p in payments if p.payment_id not in book.created_payment_ids])


def _line_records(book: Book) -> Iterable[tuple[Any, ...]]:
    for declaration in book.registered:
        declaration_id, revision = declaration.declaration_id, declaration.figures.revision
        for line in declaration.lines:
            yield (declaration_id, revision, line.line_no, line.person_id, line.person_name,
                   line.base_fen, line.employer_amount_fen, line.employee_amount_fen)


_ACCOUNT_UNNEST: Final = """
unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
       $8::text[], $9::text[], $10::date[], $11::date[], $12::int[], $13::bigint[],
       $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::int[], $19::int[],
       $20::text[])
    AS u(declaration_id, state, revision, employer_uscc, region_code, fiscal_entity_code,
         scheme, unit_funding, fee_period, declared_on, due_on, line_count, base_total_fen,
         employer_total_fen, employee_total_fen, amount_due_fen, amount_paid_fen,
         payment_count, waiting_payment_count, rule_version)
"""

_UPDATE_ACCOUNTS_SQL: Final = (
    """
UPDATE declaration AS d SET
    state = u.state, revision = u.revision, employer_uscc = u.employer_uscc,
    region_code = u.region_code, fiscal_entity_code = u.fiscal_entity_code, scheme = u.scheme,
    unit_funding = u.unit_funding, fee_period = u.fee_period, declared_on = u.declared_on,
    due_on = u.due_on, line_count = u.line_count, base_total_fen = u.base_total_fen,
    employer_total_fen = u.employer_total_fen, employee_total_fen = u.employee_total_fen,
    amount_due_fen = u.amount_due_fen, amount_paid_fen = u.amount_paid_fen,
    payment_count = u.payment_count, waiting_payment_count = u.waiting_payment_count,
    rule_version = u.rule_version, updated_at = now()
FROM """
    + _ACCOUNT_UNNEST
    + """
WHERE d.declaration_id = u.declaration_id
"""
)

_FIGURE_FIELDS: Final = (
    "revision", "employer_uscc", "region_code", "fiscal_entity_code", "scheme", "unit_funding",
    "fee_period", "declared_on", "due_on", "line_count", "base_total_fen", "employer_total_fen",
    "employee_total_fen", "amount_due_fen",
)


def _account_columns(accounts: list[Account]) -> list[list[Any]]:
    columns: list[list[Any]] = [[a.declaration_id for a in accounts], [a.state for a in accounts]]
    for name in _FIGURE_FIELDS:
        columns.append([getattr(a.figures, name) if a.figures else None for a in accounts])
    columns += [
        [a.amount_paid_fen for a in accounts], [a.payment_count for a in accounts],
        [a.waiting_count for a in accounts],
        [a.figures.rule_version if a.figures else None for a in accounts],
    ]
    return columns


_ACCOUNT_FIELDS: Final = (
    "declaration_id", "state", *_FIGURE_FIELDS, "amount_paid_fen", "payment_count",
    "waiting_payment_count", "rule_version",
)


async def _insert_accounts(conn: asyncpg.Connection, accounts: list[Account]) -> None:
    if not accounts:
        return
    records = list(zip(*_account_columns(accounts), strict=True))
    try:
        await conn.copy_records_to_table("declaration", records=records,
                                         columns=list(_ACCOUNT_FIELDS))
    except asyncpg.UniqueViolationError as error:
        # Another instance created a row for one of these ids after our lock query (a payment
        # and its declaration on two instances). The transaction is lost anyway; retrying the
        # batch finds that row and locks it.
        raise InboxRaceError("declaration id created concurrently") from error


async def _update_accounts(conn: asyncpg.Connection, accounts: list[Account]) -> None:
    if not accounts:
        return
    status = await conn.execute(_UPDATE_ACCOUNTS_SQL, *_account_columns(accounts))
    assert status == f"UPDATE {len(accounts)}", status  # the rows were locked by this batch


_PAYMENT_UNNEST: Final = """
unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::bigint[], $7::date[],
       $8::bigint[], $9::bigint[], $10::int[], $11::bigint[])
"""

_UPDATE_PAYMENTS_SQL: Final = (
    """
UPDATE payment AS p SET state = u.state, revision = u.revision, covered_fen = u.covered_fen,
       days_late = u.days_late, late_fee_fen = u.late_fee_fen, updated_at = now()
FROM """
    + _PAYMENT_UNNEST
    + """
    AS u(payment_id, declaration_id, content_hash, state, e_tax_voucher_no, amount_paid_fen,
         paid_on, revision, covered_fen, days_late, late_fee_fen)
WHERE p.payment_id = u.payment_id
"""
)


def _payment_columns(records: list[PaymentRecord]) -> list[list[Any]]:
    return [[getattr(r, name) for r in records] for name in PAYMENT_FIELDS]


async def _insert_payments(conn: asyncpg.Connection, records: list[PaymentRecord]) -> None:
    """COPY keeps the consumption order, so `arrival` numbers payments in the order they came."""
    if not records:
        return
    try:
        await conn.copy_records_to_table(
            "payment", records=list(zip(*_payment_columns(records), strict=True)),
            columns=list(PAYMENT_FIELDS))
    except asyncpg.UniqueViolationError as error:
        # Another instance took the same payment id (under another declaration id, so no row
        # lock ordered us): retrying the batch loads its row and answers as a duplicate.
        raise InboxRaceError("payment id claimed concurrently") from error


async def _update_payments(conn: asyncpg.Connection, records: list[PaymentRecord]) -> None:
    if not records:
        return
    status = await conn.execute(_UPDATE_PAYMENTS_SQL, *_payment_columns(records))
    assert status == f"UPDATE {len(records)}", status


# Set-based: one statement finds every registered declaration not paid in full whose due date
# is before as_of, records it once per as_of (the primary key) and returns only the new ones.
_OVERDUE_SQL: Final = """
WITH candidate AS (
    SELECT declaration_id, revision, employer_uscc, fiscal_entity_code, fee_period, due_on,
           amount_due_fen, amount_paid_fen
    FROM declaration
    WHERE state = 'registered' AND amount_paid_fen < amount_due_fen AND due_on < $1
), reported AS (
    INSERT INTO overdue_report (declaration_id, as_of, revision, amount_outstanding_fen,
                                command_id)
    SELECT declaration_id, $1, revision, amount_due_fen - amount_paid_fen, $2 FROM candidate
    ON CONFLICT (declaration_id, as_of) DO NOTHING
    RETURNING declaration_id
)
SELECT candidate.* FROM candidate JOIN reported USING (declaration_id) ORDER BY declaration_id
"""


async def report_overdue(
    conn: asyncpg.Connection, as_of: dt.date, command_id: str
) -> list[OverdueRow]:
    rows = await conn.fetch(_OVERDUE_SQL, as_of, command_id)
    return [OverdueRow(**dict(row)) for row in rows]


async def gauges(conn: asyncpg.Connection) -> list[tuple[str, str, int]]:
    """Per fiscal entity: declarations past due and unpaid today (Asia/Shanghai), and their fen."""
    rows = await conn.fetch(
        "SELECT fiscal_entity_code, count(*) AS overdue_count,"
        " sum(amount_due_fen - amount_paid_fen) AS outstanding_fen"
        " FROM declaration WHERE state = 'registered' AND amount_paid_fen < amount_due_fen"
        " AND due_on < current_date GROUP BY fiscal_entity_code")
    return [
        gauge
        for row in rows
        for gauge in (("declarations_overdue", row["fiscal_entity_code"], row["overdue_count"]),
                      ("declarations_overdue_outstanding_fen", row["fiscal_entity_code"],
                       row["outstanding_fen"]))
    ]


# ---- enterprise annuity filings ------------------------------------------------------------------


async def load_enterprise_book(
    conn: asyncpg.Connection, checks: Sequence[EnterpriseAnnuityCheck]
) -> EnterpriseBook:
    """What a run of filings touches, one query per table; the filing rows come back locked."""
    pairs = sorted({(c.declaration_id, c.revision) for c in checks
                    if c.recordable and c.revision is not None})
    ids = sorted({pair[0] for pair in pairs})
    revisions: dict[tuple[str, int], bytes] = {}
    current: dict[str, CurrentFiling] = {}
    if pairs:
        rows = await conn.fetch(
            "SELECT r.declaration_id, r.revision, r.content_hash FROM ea_filing_revision r"
            " JOIN unnest($1::text[], $2::bigint[]) AS t(declaration_id, revision)"
            " USING (declaration_id, revision)", [p[0] for p in pairs], [p[1] for p in pairs])
        revisions = {(r["declaration_id"], r["revision"]): r["content_hash"] for r in rows}
        rows = await conn.fetch(
            "SELECT * FROM ea_filing WHERE declaration_id = ANY($1::text[]) AND state ="
            " 'registered' ORDER BY declaration_id FOR UPDATE", ids)
        current = {r["declaration_id"]: CurrentFiling(r["revision"], r["employer_uscc"],
                                                      r["plan_year"], _totals(r)) for r in rows}
    filings = [c.filing for c in checks if c.filing is not None]
    return EnterpriseBook(
        revisions=revisions, current=current,
        year_totals=await _year_totals(conn, {(f.employer_uscc, f.plan_year) for f in filings}),
        first_basic_period=await first_basic_periods(
            conn, sorted({line.person_id for f in filings if f.backfill for line in f.lines})),
    )


def _totals(row: asyncpg.Record) -> Totals:
    return Totals(row["payroll_total_fen"], row["employer_total_fen"], row["employee_total_fen"])


async def _year_totals(conn: asyncpg.Connection,
                       keys: set[tuple[str, int]]) -> dict[tuple[str, int], Totals]:
    if not keys:
        return {}
    rows = await conn.fetch(
        # sum(bigint) is numeric in PostgreSQL: cast back, money stays integer fen.
        "SELECT employer_uscc, plan_year, sum(payroll_total_fen)::bigint AS payroll_total_fen,"
        " sum(employer_total_fen)::bigint AS employer_total_fen,"
        " sum(employee_total_fen)::bigint AS employee_total_fen FROM ea_filing"
        " JOIN unnest($1::text[], $2::int[]) AS k(employer_uscc, plan_year)"
        " USING (employer_uscc, plan_year) WHERE state = 'registered'"
        " GROUP BY employer_uscc, plan_year",
        [k[0] for k in keys], [k[1] for k in keys])
    return {(r["employer_uscc"], r["plan_year"]): _totals(r) for r in rows}


async def first_basic_periods(conn: asyncpg.Connection,
                              person_ids: Sequence[str]) -> dict[str, str]:
    """Each person's earliest fee period on a registered basic-pension declaration."""
    if not person_ids:
        return {}
    rows = await conn.fetch(
        "SELECT l.person_id, min(d.fee_period) AS first_period FROM declaration_line l"
        " JOIN declaration d ON d.declaration_id = l.declaration_id AND d.revision = l.revision"
        " WHERE l.person_id = ANY($1::text[]) AND d.state = 'registered'"
        " AND d.scheme IN ('enterprise_basic', 'institution_basic') GROUP BY l.person_id",
        person_ids)
    return {r["person_id"]: r["first_period"] for r in rows}


async def save_enterprise_book(conn: asyncpg.Connection, book: EnterpriseBook) -> None:
    if book.new_revisions:
        await conn.copy_records_to_table(
            "ea_filing_revision", records=book.new_revisions,
            columns=["declaration_id", "revision", "content_hash", "outcome"])
    rows: list[tuple[object, ...]] = [
        (f.declaration_id, "registered", f.revision, f.employer_uscc, f.fiscal_entity_code,
         f.fee_period, f.plan_year, f.payroll_total_fen, f.employer_total_fen,
         f.employee_total_fen, f.rule_version) for f in book.registered]
    rows += [(id_, "rejected", *([None] * 9)) for id_ in sorted(book.rejected_ids)]
    if rows:
        await conn.executemany(_UPSERT_FILING_SQL, rows)
    if book.registered:
        await conn.copy_records_to_table("ea_line", records=[
            (f.declaration_id, f.revision, line.line_no, line.person_id,
             line.employer_amount_fen, line.employee_amount_fen)
            for f in book.registered for line in f.lines
        ], columns=["declaration_id", "revision", "line_no", "person_id",
                    "employer_amount_fen", "employee_amount_fen"])


# A rejected revision never overwrites a registered one (the filing keeps its current figures).
_UPSERT_FILING_SQL: Final = """
INSERT INTO ea_filing (declaration_id, state, revision, employer_uscc, fiscal_entity_code,
                       fee_period, plan_year, payroll_total_fen, employer_total_fen,
                       employee_total_fen, rule_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (declaration_id) DO UPDATE SET
    state = excluded.state, revision = excluded.revision, employer_uscc = excluded.employer_uscc,
    fiscal_entity_code = excluded.fiscal_entity_code, fee_period = excluded.fee_period,
    plan_year = excluded.plan_year, payroll_total_fen = excluded.payroll_total_fen,
    employer_total_fen = excluded.employer_total_fen,
    employee_total_fen = excluded.employee_total_fen, rule_version = excluded.rule_version,
    updated_at = now()
WHERE excluded.state = 'registered'
"""


# ---- the annuity base check -------------------------------------------------------------------

_PERIOD_LINES_SQL: Final = """
SELECT d.employer_uscc, d.fee_period, d.declaration_id, d.scheme, d.fiscal_entity_code,
       l.line_no, l.person_id, l.base_fen
FROM declaration d
JOIN unnest($1::text[], $2::text[]) AS p(employer_uscc, fee_period)
     USING (employer_uscc, fee_period)
JOIN declaration_line l ON l.declaration_id = d.declaration_id AND l.revision = d.revision
WHERE d.state = 'registered'
  AND d.scheme IN ('occupational_annuity', 'institution_basic', 'enterprise_basic')
"""

_OPEN_FINDINGS_SQL: Final = """
SELECT f.* FROM annuity_base_finding f
JOIN unnest($1::text[], $2::text[]) AS p(employer_uscc, fee_period)
     USING (employer_uscc, fee_period)
WHERE f.state = 'open'
ORDER BY f.finding_id FOR UPDATE
"""

Pair = tuple[str, str]


async def pairs_with_annuity(conn: asyncpg.Connection, pairs: Sequence[Pair]) -> set[Pair]:
    """The (employer, period) pairs among these with a registered occupational annuity
    declaration or an open finding: only there can a basic-pension line change a finding."""
    if not pairs:
        return set()
    rows = await conn.fetch(
        "SELECT employer_uscc, fee_period FROM declaration"
        " JOIN unnest($1::text[], $2::text[]) AS p(employer_uscc, fee_period)"
        " USING (employer_uscc, fee_period)"
        " WHERE state = 'registered' AND scheme = 'occupational_annuity'"
        " UNION SELECT employer_uscc, fee_period FROM annuity_base_finding"
        " JOIN unnest($1::text[], $2::text[]) AS p(employer_uscc, fee_period)"
        " USING (employer_uscc, fee_period) WHERE state = 'open'",
        [p[0] for p in pairs], [p[1] for p in pairs])
    return {(r["employer_uscc"], r["fee_period"]) for r in rows}


async def load_period_lines(conn: asyncpg.Connection,
                            pairs: Sequence[Pair]) -> dict[Pair, list[PeriodLine]]:
    """The current lines of the registered annuity and basic declarations of each pair."""
    rows = await conn.fetch(_PERIOD_LINES_SQL, [p[0] for p in pairs], [p[1] for p in pairs])
    found: dict[Pair, list[PeriodLine]] = {}
    for r in rows:
        found.setdefault((r["employer_uscc"], r["fee_period"]), []).append(PeriodLine(
            r["declaration_id"], r["scheme"], r["fiscal_entity_code"], r["line_no"],
            r["person_id"], r["base_fen"]))
    return found


async def load_open_findings(conn: asyncpg.Connection,
                             pairs: Sequence[Pair]) -> dict[Pair, dict[str, Finding]]:
    rows = await conn.fetch(_OPEN_FINDINGS_SQL, [p[0] for p in pairs], [p[1] for p in pairs])
    found: dict[Pair, dict[str, Finding]] = {}
    for r in rows:
        found.setdefault((r["employer_uscc"], r["fee_period"]), {})[r["person_id"]] = Finding(
            r["finding_id"], r["employer_uscc"], r["fee_period"], r["person_id"],
            r["fiscal_entity_code"], r["kind"], r["annuity_declaration_id"],
            r["annuity_line_no"], r["annuity_base_fen"], r["basic_declaration_id"],
            r["basic_base_fen"])
    return found


async def save_findings(conn: asyncpg.Connection, comparison: Comparison) -> None:
    if comparison.opened:
        await conn.executemany(_UPSERT_FINDING_SQL, [
            (f.finding_id, f.employer_uscc, f.fee_period, f.person_id, f.fiscal_entity_code,
             f.kind, f.annuity_declaration_id, f.annuity_line_no, f.annuity_base_fen,
             f.basic_declaration_id, f.basic_base_fen) for f in comparison.opened])
    if comparison.resolved:
        await conn.execute(
            "UPDATE annuity_base_finding SET state = 'resolved', updated_at = now()"
            " WHERE finding_id = ANY($1::text[])", [id_ for id_, _ in comparison.resolved])


_UPSERT_FINDING_SQL: Final = """
INSERT INTO annuity_base_finding (finding_id, employer_uscc, fee_period, person_id,
    fiscal_entity_code, state, kind, annuity_declaration_id, annuity_line_no, annuity_base_fen,
    basic_declaration_id, basic_base_fen)
VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11)
ON CONFLICT (finding_id) DO UPDATE SET
    state = 'open', kind = excluded.kind, fiscal_entity_code = excluded.fiscal_entity_code,
    annuity_declaration_id = excluded.annuity_declaration_id,
    annuity_line_no = excluded.annuity_line_no, annuity_base_fen = excluded.annuity_base_fen,
    basic_declaration_id = excluded.basic_declaration_id,
    basic_base_fen = excluded.basic_base_fen, updated_at = now()
"""


# ---- the assessment of leagues and cities ------------------------------------------------------

# Per fiscal entity, the declarations of a fee period (current revisions) and what was paid by
# as_of; a declaration is paid on time when its payments on or before its due date cover it.
_ASSESSMENT_SQL: Final = """
WITH declared AS (
    SELECT d.declaration_id, d.fiscal_entity_code, d.due_on, d.revision, d.amount_due_fen
    FROM declaration d WHERE d.state = 'registered' AND d.fee_period = $1
), paid AS (
    SELECT p.declaration_id,
           sum(p.amount_paid_fen) FILTER (WHERE p.paid_on <= $2)::bigint AS paid_fen,
           sum(p.late_fee_fen) FILTER (WHERE p.paid_on <= $2)::bigint AS late_fee_fen,
           sum(p.covered_fen) FILTER (WHERE p.days_late = 0)::bigint AS on_time_fen
    FROM payment p JOIN declared d USING (declaration_id)
    WHERE p.state = 'settled' AND p.revision = d.revision
    GROUP BY p.declaration_id
), findings AS (
    SELECT fiscal_entity_code, count(*) AS open_count FROM annuity_base_finding
    WHERE fee_period = $1 AND state = 'open' GROUP BY fiscal_entity_code
), lines AS (
    SELECT d.fiscal_entity_code, d.employer_uscc, d.scheme, l.person_id
    FROM declaration d
    JOIN declaration_line l ON l.declaration_id = d.declaration_id AND l.revision = d.revision
    WHERE d.state = 'registered' AND d.fee_period = $1
      AND d.scheme IN ('institution_basic', 'occupational_annuity')
), coverage AS (
    SELECT b.fiscal_entity_code, count(DISTINCT b.person_id) AS members,
           count(DISTINCT b.person_id) FILTER (WHERE NOT EXISTS (
               SELECT 1 FROM lines a WHERE a.scheme = 'occupational_annuity'
                 AND a.employer_uscc = b.employer_uscc AND a.person_id = b.person_id))
               AS without_annuity
    FROM lines b WHERE b.scheme = 'institution_basic' GROUP BY b.fiscal_entity_code
), totals AS (
    SELECT d.fiscal_entity_code, count(*) AS registered,
           count(*) FILTER (WHERE coalesce(p.on_time_fen, 0) >= d.amount_due_fen
                            AND d.due_on <= $2) AS paid_on_time,
           sum(d.amount_due_fen)::bigint AS due_fen,
           sum(coalesce(p.paid_fen, 0))::bigint AS paid_fen,
           sum(greatest(d.amount_due_fen - coalesce(p.paid_fen, 0), 0))::bigint
               AS outstanding_fen,
           sum(coalesce(p.late_fee_fen, 0))::bigint AS late_fee_fen
    FROM declared d LEFT JOIN paid p USING (declaration_id) GROUP BY d.fiscal_entity_code
)
SELECT e.fiscal_entity_code,
       coalesce(t.registered, 0) AS registered, coalesce(t.paid_on_time, 0) AS paid_on_time,
       coalesce(t.due_fen, 0) AS due_fen, coalesce(t.paid_fen, 0) AS paid_fen,
       coalesce(t.outstanding_fen, 0) AS outstanding_fen,
       coalesce(t.late_fee_fen, 0) AS late_fee_fen,
       coalesce(f.open_count, 0) AS findings_open, coalesce(c.members, 0) AS members,
       coalesce(c.without_annuity, 0) AS without_annuity
FROM (SELECT fiscal_entity_code FROM totals UNION SELECT fiscal_entity_code FROM findings
      UNION SELECT fiscal_entity_code FROM coverage) e
LEFT JOIN totals t USING (fiscal_entity_code) LEFT JOIN findings f USING (fiscal_entity_code)
LEFT JOIN coverage c USING (fiscal_entity_code)
ORDER BY e.fiscal_entity_code
"""


async def assessment(conn: asyncpg.Connection, period: str,
                     as_of: dt.date) -> list[EntityFigures]:
    return [EntityFigures(**dict(row)) for row in await conn.fetch(_ASSESSMENT_SQL, period, as_of)]
