"""The outbox relay on the real broker: a row refused for good is set aside, never blocks the rows
behind it, and no row is sent twice because another row of its batch failed."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.messaging import _PENDING_ROWS_SQL
from tests.integration.probe_service import probe_spec
from tests.integration.test_messaging import new_probe
from tests.support import connect_db, read_topic, service_running, wait_for

pytestmark = pytest.mark.usefixtures("stack_env")

ROW_SQL = """
INSERT INTO outbox (topic, key, value, header_names, header_values, event_id, event_type)
VALUES ($1, $2, $3, ARRAY['content-type'], ARRAY['application/cloudevents+json'::bytea], $4,
        'test.probe.done.v1')
RETURNING id
"""


async def add_rows(schema: str, rows: list[tuple[str, bytes]]) -> list[int]:
    conn = await connect_db(schema)
    try:
        return [await conn.fetchval(ROW_SQL, topic, b"k", value, f"E-{index}")
                for index, (topic, value) in enumerate(rows)]
    finally:
        await conn.close()


async def outbox_rows(schema: str) -> dict[int, asyncpg.Record]:
    conn = await connect_db(schema)
    try:
        rows = await conn.fetch("SELECT id, published_at, set_aside_at, set_aside_reason"
                                " FROM outbox ORDER BY id")
        return {row["id"]: row for row in rows}
    finally:
        await conn.close()


async def test_rows_refused_for_good_are_set_aside_and_the_others_go_out_once() -> None:
    probe = await new_probe()
    ok = [b'{"n": 1}', b'{"n": 2}', b'{"n": 3}']
    too_large = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    async with service_running(probe_spec(probe.name, probe.topic), rule_set="production",
                               kafka_request_timeout_ms=2_000) as runtime:
        await wait_for(lambda: _migrated(probe.name), what="the probe's schema")
        ids = await add_rows(probe.name, [
            (probe.out, ok[0]), (probe.out, too_large), (probe.out, ok[1]),
            (f"{probe.name}.gone", ok[0]), (probe.out, ok[2]),
        ])
        assert runtime.relay is not None
        runtime.relay.wakeup.set()

        async def settled() -> bool:
            rows = await outbox_rows(probe.name)
            return all(r["published_at"] or r["set_aside_at"] for r in rows.values())

        await wait_for(settled, what="every row published or set aside")
        await asyncio.sleep(1)  # a re-send, if any, would arrive now
        out = await read_topic(probe.out, until=lambda r: len(r) >= 3, timeout_s=10)
        rows = await outbox_rows(probe.name)
        assert runtime.health is not None
        ready = await runtime.health.ready()
    assert sorted(r.value for r in out) == ok  # each once, in spite of the failures between
    assert [bool(rows[i]["published_at"]) for i in ids] == [True, False, True, False, True]
    assert rows[ids[1]]["set_aside_reason"].startswith("MessageSizeTooLargeError")
    assert rows[ids[3]]["set_aside_reason"].startswith("UnknownTopicOrPartitionError")
    assert ready["outbox_publishing"] is True


async def _migrated(schema: str) -> bool:
    try:
        await outbox_rows(schema)
    except (OSError, asyncpg.PostgresError):
        return False
    return True


async def test_a_relay_batch_stops_at_its_byte_budget_but_always_takes_one_row() -> None:
    probe = await new_probe()
    async with service_running(probe_spec(probe.name, probe.topic), rule_set="production",
                               relay_idle_ms=60_000):
        await wait_for(lambda: _migrated(probe.name), what="the probe's schema")
    # The service is stopped: nothing publishes the rows added now.
    ids = await add_rows(probe.name, [(probe.out, b"x" * 300_000) for _ in range(5)])
    conn = await connect_db(probe.name)
    try:
        two = await conn.fetch(_PENDING_ROWS_SQL, 1_000, 600_000)
        one = await conn.fetch(_PENDING_ROWS_SQL, 1_000, 1_000)
        three = await conn.fetch(_PENDING_ROWS_SQL, 3, 10_000_000)
    finally:
        await conn.close()
    assert [r["id"] for r in two] == ids[:2]
    assert [r["id"] for r in one] == ids[:1]
    assert [r["id"] for r in three] == ids[:3]
