"""The journal and the bookkeeping every stage shares: the batch's lock on the ledger,
journal entries, unreadable events kept, the business gauges."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from services.occupational_annuity.model import (
    Entry,
    Ignored,
)


async def lock_ledger(conn: asyncpg.Connection) -> None:
    """One batch at a time changes this schema's ledger. A member's notional money is read and
    changed by credits, interest postings, fundings and their completions, which arrive on
    different topics and could interleave across instances; the annuity stream is small (a
    record per paid declaration, notice, personnel event or command), so one transaction-scoped
    lock, taken first, costs little and leaves no lock order to get wrong."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/ledger'))")


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
