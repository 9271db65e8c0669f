"""The console's SQL: write the read model, read what the pages show. `$1` parameters only."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import orjson

from services.console.domain import ALL_PERIODS, REPORT_TOPICS, EventRow

_PERIOD: Final = re.compile(r"\A[0-9]{4}-(0[1-9]|1[0-2])\Z", re.ASCII)

_INSERT_EVENTS: Final = """
INSERT INTO event (topic, kafka_partition, kafka_offset, source, event_id, event_type, event_time,
                   declaration_id, fiscal_entity_code, period, keys, data)
SELECT t.topic, t.kafka_partition, t.kafka_offset, t.source, t.event_id, t.event_type,
       t.event_time, t.declaration_id, t.fiscal_entity_code, t.period,
       coalesce((SELECT array_agg(k) FROM jsonb_array_elements_text(t.keys::jsonb) k), '{}'),
       t.data::jsonb
FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
     AS t(topic, kafka_partition, kafka_offset, source, event_id, event_type, event_time,
          declaration_id, fiscal_entity_code, period, keys, data)
ON CONFLICT DO NOTHING
"""
_PERIODS_OF_KEYS: Final = """
SELECT DISTINCT period FROM event WHERE keys && $1::text[] AND period IS NOT NULL
"""
_MARK_DIRTY: Final = """
INSERT INTO report_period (period) SELECT unnest($1::text[])
ON CONFLICT (period) DO UPDATE SET dirty_version = report_period.dirty_version + 1
"""


def _json(value: Any) -> str:
    # Event data never holds a float (wire.py reads fractions as Decimal); str() keeps them exact.
    return orjson.dumps(value, default=str).decode()


async def save_events(conn: asyncpg.Connection, rows: Sequence[EventRow]) -> None:
    columns: list[list[Any]] = [[] for _ in range(12)]
    for row in rows:
        for column, value in zip(columns, (
                row.topic, row.partition, row.offset, row.source, row.event_id, row.event_type,
                row.event_time, row.declaration_id, row.fiscal_entity_code, row.period,
                _json(list(row.keys)), _json(row.data)), strict=True):
            column.append(value)
    await conn.execute(_INSERT_EVENTS, *columns)


async def mark_dirty(conn: asyncpg.Connection, rows: Sequence[EventRow]) -> None:
    """Every period whose report these events change: their own, or (a payment, a settled
    notice) that of the events they name; all periods for an event of a section that counts
    every period to date (domain.EventRow.touches_all_periods)."""
    periods = {row.period for row in rows if row.period is not None}
    keys = sorted({key for row in rows if row.period is None for key in row.keys})
    if keys:
        periods.update(r["period"] for r in await conn.fetch(_PERIODS_OF_KEYS, keys))
    if any(row.touches_all_periods for row in rows):
        periods.update(r["period"] for r in await conn.fetch("SELECT period FROM report_period"))
        periods.add(ALL_PERIODS)
    valid = sorted(p for p in periods if _PERIOD.match(p))
    if valid:
        await conn.execute(_MARK_DIRTY, valid)
    if ALL_PERIODS in periods:
        await conn.execute("UPDATE report_period SET dirty_version = dirty_version + 1")


# ---- report snapshots -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredEvent:
    topic: str
    offset: int
    event: dict[str, Any]


async def dirty_periods(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT period, dirty_version FROM report_period "
                            "WHERE dirty_version > built_version ORDER BY period")
    return {row["period"]: row["dirty_version"] for row in rows}


async def report_events(conn: asyncpg.Connection) -> list[StoredEvent]:
    """The events `pension-ops report` reads, in topic and partition order; lines and credits
    stay in the database (the report never reads them)."""
    rows = await conn.fetch(
        "SELECT topic, kafka_offset, source, event_id, event_type,"
        " (data - 'lines' - 'credits')::text AS data FROM event WHERE topic = ANY($1::text[])"
        " ORDER BY topic, kafka_partition, kafka_offset", list(REPORT_TOPICS))
    return [StoredEvent(row["topic"], row["kafka_offset"],
                        {"source": row["source"], "id": row["event_id"],
                         "type": row["event_type"], "data": orjson.loads(row["data"])})
            for row in rows]


async def declared(conn: asyncpg.Connection,
                   declaration_ids: Iterable[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT (data - 'lines')::text AS data FROM event WHERE topic = 'tax.contribution."
        "declarations' AND declaration_id = ANY($1::text[]) ORDER BY kafka_partition, "
        "kafka_offset", sorted(declaration_ids))
    return [orjson.loads(row["data"]) for row in rows]


async def save_snapshot(conn: asyncpg.Connection, period: str, version: int,
                        report: dict[str, Any]) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO report_snapshot (period, report) VALUES ($1, $2::json)"
            " ON CONFLICT (period) DO UPDATE SET report = EXCLUDED.report, built_at = now()",
            period, _json(report))
        await conn.execute("UPDATE report_period SET built_version = $2 WHERE period = $1"
                           " AND built_version < $2", period, version)


async def snapshot(conn: asyncpg.Connection, period: str) -> dict[str, Any] | None:
    text = await conn.fetchval("SELECT report::text FROM report_snapshot WHERE period = $1",
                               period)
    return None if text is None else orjson.loads(text)


async def snapshots(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch("SELECT period, report::text AS report FROM report_snapshot"
                            " ORDER BY period")
    return {row["period"]: orjson.loads(row["report"]) for row in rows}


async def periods(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT period FROM report_snapshot ORDER BY period")
    return [row["period"] for row in rows]


async def pending_periods(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM report_period WHERE dirty_version > built_version"))


# ---- trace --------------------------------------------------------------------------------------

_TRACE_COLUMNS: Final = ("topic, kafka_partition, kafka_offset, source, event_id, event_type, "
                         "event_time, data::text AS data")


async def declaration_events(conn: asyncpg.Connection, declaration_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(f"SELECT {_TRACE_COLUMNS} FROM event"  # noqa: S608
                                 " WHERE declaration_id = $1", declaration_id))


_MONEY_ROOTS: Final = """
SELECT coalesce(data->>'remittance_id', data->>'assessment_id') FROM event
WHERE fiscal_entity_code = $1 AND period = $2
  AND event_type IN ('annuity.remittance.requested.v1', 'annuity.interest_topup.assessed.v1')
"""


async def money_events(conn: asyncpg.Connection, entity: str, period: str
                       ) -> list[asyncpg.Record]:
    """The remittances and top-ups of an entity's period, and every event naming them (their
    completion or overdue report, allocations, the transfer notices that moved the money)."""
    roots = [row[0] for row in await conn.fetch(_MONEY_ROOTS, entity, period)]
    if not roots:
        return []
    notices = [row[0] for row in await conn.fetch(
        "SELECT DISTINCT data->>'notice_id' FROM event WHERE keys && $1::text[]"
        " AND topic = 'transfer.notices'", roots)]
    return list(await conn.fetch(
        f"SELECT {_TRACE_COLUMNS} FROM event"  # noqa: S608
        " WHERE keys && $1::text[]", roots + notices))


# ---- dead letters -------------------------------------------------------------------------------


async def save_dead_letters(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    await conn.executemany(
        "INSERT INTO dlq_record (topic, kafka_partition, kafka_offset, service, reason, detail,"
        " original_topic, original_position, consumer_group, failed_at, key, value, value_bytes,"
        " headers) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb)"
        " ON CONFLICT DO NOTHING", rows)


async def dead_letter_counts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT service, reason, count(*) AS letters FROM dlq_record"
                                 " GROUP BY service, reason ORDER BY service, reason"))


DLQ_PAGE_ROWS: Final = 200


async def dead_letters(conn: asyncpg.Connection, service: str | None, reason: str | None
                       ) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        "SELECT topic, kafka_partition, kafka_offset, service, reason, original_topic,"
        " original_position, failed_at, key, value_bytes FROM dlq_record"
        " WHERE ($1::text IS NULL OR service = $1) AND ($2::text IS NULL OR reason = $2)"
        " ORDER BY failed_at DESC, topic, kafka_partition, kafka_offset LIMIT $3",
        service, reason, DLQ_PAGE_ROWS))


async def dead_letter(conn: asyncpg.Connection, service: str, partition: int, offset: int
                      ) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM dlq_record WHERE service = $1 AND kafka_partition = $2"
        " AND kafka_offset = $3", service, partition, offset)
