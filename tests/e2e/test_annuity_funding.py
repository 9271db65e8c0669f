"""Annuity money requested from fund_transfer, on the real broker and database with both services
running: a request completes when the money settled over all notices of it reaches its amount,
also when a notice is partly settled, then fails, and its replacement brings the remainder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.fund_transfer.app import spec as fund_transfer_spec
from services.occupational_annuity.app import spec as annuity_spec
from shared.access import OPERATOR
from shared.contracts import finance, transfer
from shared.ids import notice_id_for_request, remittance_id
from shared.money import format_yuan
from tests.e2e.annuity_support import (
    ALICE,
    Records,
    amount_due,
    declared_and_paid,
    publish_records,
    registered,
    run_id,
)
from tests.support import (
    Received,
    cloudevent,
    connect_db,
    create_namespace,
    kafka_options,
    partitions_of,
    read_topic,
    service_running,
)

pytestmark = pytest.mark.usefixtures("stack_env")

SERVICES = (fund_transfer_spec(), annuity_spec())
QUIET_POLL_S = 0.3
COMPLETED = "annuity.remittance.completed.v1"


class System:
    """fund_transfer and occupational_annuity in one namespace, fed as partners would feed them."""

    def __init__(self, namespace: str, consumer: AIOKafkaConsumer,
                 admin: AIOKafkaAdminClient) -> None:
        self.namespace = namespace
        self.consumer = consumer
        self.admin = admin

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    async def publish(self, records: Records) -> None:
        await publish_records(self.namespace, records)

    async def settle(self, entity: str, notice_id: str, amount_fen: int, on: str) -> None:
        data = {"settlement_id": run_id("S"), "notice_id": notice_id,
                "amount_settled": format_yuan(amount_fen), "value_date": on,
                "bank_reference": run_id("BR")}
        await self.publish([(finance.TOPIC_SETTLEMENTS, entity.encode(),
                             cloudevent(finance.SETTLED, data, source=f"/finance/{entity}"))])

    async def fail(self, entity: str, notice_id: str, on: str) -> None:
        data = {"settlement_id": run_id("F"), "notice_id": notice_id,
                "reason": "收款账户冻结", "failed_on": on}
        await self.publish([(finance.TOPIC_SETTLEMENTS, entity.encode(),
                             cloudevent(finance.FAILED, data, source=f"/finance/{entity}"))])

    async def command(self, event_type: str, **data: Any) -> None:
        value = cloudevent(event_type, {"command_id": run_id("C"), **data}, source="/ops/cli")
        await self.publish([("ops.commands", b"all", value)])

    async def events(self, name: str) -> list[dict[str, Any]]:
        """Every event on a topic of the namespace, read to its end offsets."""
        records = await self._read_to_end(name)
        return [r.event for r in sorted(records, key=lambda r: (r.partition, r.offset))]

    async def _read_to_end(self, name: str) -> list[Received]:
        total = sum((await self._end_offsets(name)).values())
        records = await read_topic(self.topic(name), until=lambda got: len(got) >= total,
                                   timeout_s=30)
        assert len(records) >= total, (name, len(records), total)
        return records

    async def _end_offsets(self, name: str) -> dict[TopicPartition, int]:
        topic = self.topic(name)
        partitions = [TopicPartition(topic, p) for p in await partitions_of(self.consumer, topic)]
        return dict(await self.consumer.end_offsets(partitions))

    async def quiet(self) -> None:
        """Nothing left to do anywhere: two polls in a row see every outbox published, every
        group's lag 0 and no topic grown (a relay's send in flight keeps its row unpublished)."""
        previous: dict[TopicPartition, int] | None = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            offsets = await self._quiet_offsets()
            if offsets is not None and offsets == previous:
                return
            previous = offsets
            await asyncio.sleep(QUIET_POLL_S)
        raise AssertionError("the services did not go quiet within 60 s")

    async def _quiet_offsets(self) -> dict[TopicPartition, int] | None:
        for spec in SERVICES:
            if await self._unpublished(spec.name) != 0:
                return None
        ends: dict[TopicPartition, int] = {}
        for spec in SERVICES:
            group_ends: dict[TopicPartition, int] = {}
            for name in spec.topics:
                group_ends.update(await self._end_offsets(name))
            committed = await self.admin.list_consumer_group_offsets(
                f"{spec.name}_{self.namespace}", partitions=list(group_ends))
            for tp, end in group_ends.items():
                done = committed[tp].offset if tp in committed else -1
                if max(done, 0) != end:
                    return None
            ends.update(group_ends)
        return ends

    async def _unpublished(self, service: str) -> int:
        conn = await connect_db(f"{service}_{self.namespace}")
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        except asyncpg.UndefinedTableError:
            return -1  # not migrated yet
        finally:
            await conn.close()


@asynccontextmanager
async def running_system(**settings: object) -> AsyncIterator[System]:
    """A fresh namespace with both services running in this event loop."""
    namespace = await create_namespace()
    consumer = AIOKafkaConsumer(**kafka_options(OPERATOR), group_id=None)
    admin = AIOKafkaAdminClient(**kafka_options(OPERATOR))
    await consumer.start()
    await admin.start()
    try:
        async with AsyncExitStack() as stack:
            for spec in SERVICES:
                await stack.enter_async_context(service_running(spec, namespace, **settings))
            yield System(namespace, consumer, admin)
    finally:
        await consumer.stop()
        await admin.close()


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == event_type]


async def test_a_remittance_partly_settled_then_failed_completes_when_the_remainder_settles(
) -> None:
    declaration = registered(run_id("D"), "150200", "2025-03", "self", [(ALICE, 490_700)])
    total_fen = amount_due(declaration)  # 588.84: 392.56 unit + 196.28 individual
    request_id = remittance_id("150200", "2025-03", 0)
    first, replacement = (notice_id_for_request(request_id, n) for n in (0, 1))
    async with running_system() as system:
        await system.publish(declared_and_paid(declaration))
        await system.command("ops.deadline_check.requested.v1", as_of="2025-04-05")
        await system.quiet()
        issued = of_type(await system.events(transfer.TOPIC_NOTICES), transfer.NOTICE_ISSUED)
        assert [(n["notice_id"], n["amount"]) for n in issued] == [(first, "588.84")]
        await system.settle("150200", first, 30_000, "2025-04-08")
        await system.fail("150200", first, "2025-04-09")
        await system.quiet()
        notices = await system.events(transfer.TOPIC_NOTICES)
        [failed] = of_type(notices, transfer.NOTICE_FAILED)
        assert (failed["amount_settled"], failed["replaced_by"]) == ("300.00", replacement)
        assert of_type(notices, transfer.NOTICE_ISSUED)[-1]["amount"] == format_yuan(
            total_fen - 30_000)
        await system.settle("150200", replacement, total_fen - 30_000, "2025-04-12")
        await system.quiet()
        ledger = await system.events("annuity.ledger")
    assert of_type(ledger, COMPLETED) == [{
        "remittance_id": request_id, "fiscal_entity_code": "150200", "fee_period": "2025-03",
        "notice_id": replacement, "amount": "588.84", "value_date": "2025-04-12",
        "on_time": True}]
