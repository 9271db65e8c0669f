"""做实 and 补记: what the ledger knows of members, personnel events accepted, fundings and
back-credits asked for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from services.occupational_annuity import domain
from services.occupational_annuity.domain import PersonnelBook
from services.occupational_annuity.model import (
    Backcredit,
    MemberLedger,
    NotionalFunding,
    PersonnelEvent,
)
from services.occupational_annuity.store.requests import insert_transfer_requests

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
