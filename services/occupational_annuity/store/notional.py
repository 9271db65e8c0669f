"""Notional interest: balances a year earns on, postings claimed once, years posted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from fractions import Fraction

import asyncpg

from services.occupational_annuity.model import (
    NotionalBalance,
    NotionalPosting,
    Rate,
)


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
