"""Declarations, their payments and their credits: what collection registered and settled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import asyncpg

from services.occupational_annuity.model import (
    Credit,
    Declaration,
    DeclarationPayment,
    Line,
    PaymentSettled,
    Registration,
)

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
