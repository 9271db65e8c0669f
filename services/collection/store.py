"""Collection's SQL: whole-batch loads (one query each) and bulk writes (COPY and unnest).

Every statement names only this service's tables; the pool's search_path is its schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Final

import asyncpg

from services.collection.domain import Account, Book, OverdueRow, PaymentRecord
from services.collection.validation import Figures
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
