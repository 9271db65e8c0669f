"""What the annuity e2e tests feed and watch: collection's registered declarations (8% / 4%
lines) and payments, personnel events, finance's settlements, and `System`, fund_transfer and
occupational_annuity running in one namespace with a way to wait until both are quiet."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.fund_transfer.app import spec as fund_transfer_spec
from services.occupational_annuity.app import spec as annuity_spec
from shared.access import OPERATOR
from shared.contracts import collection, finance, hr
from shared.money import amount_for_rate, format_yuan, parse_yuan
from tests.support import (
    Received,
    cloudevent,
    connect_db,
    create_namespace,
    kafka_options,
    partitions_of,
    publish,
    read_topic,
    service_running,
)

ALICE = "11010519491231002X"
BOB = "150102198001010014"
CAROL = "150102199001010019"
DAVE = "152921199001010013"
USCC = "91110000600037341L"
EVE = "150102199001010035"  # another valid identity number (check character 5)
Records = list[tuple[str, bytes | None, bytes | None]]  # (topic, key, value)


def run_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ---- what the other services publish ------------------------------------------------------------


def registered(declaration_id: str, entity: str, period: str, unit_funding: str | None,
               people: list[tuple[str, int]], revision: int = 0,
               scheme: str = "occupational_annuity") -> dict[str, Any]:
    """collection.declaration.registered.v1 with lines of 8% / 4% of each base (in fen)."""
    lines: list[dict[str, Any]] = [
        {"line_no": n, "person_id": person, "base": format_yuan(base),
         "employer_amount": format_yuan(amount_for_rate(base, 800)),
         "employee_amount": format_yuan(amount_for_rate(base, 400))}
        for n, (person, base) in enumerate(people, start=1)
    ]
    employer = sum(parse_yuan(line["employer_amount"]) for line in lines)
    employee = sum(parse_yuan(line["employee_amount"]) for line in lines)
    due = employee if unit_funding == "treasury_full" else employer + employee
    data = {
        "declaration_id": declaration_id, "revision": revision,
        "replaces_revision": revision - 1 if revision else None, "employer_uscc": USCC,
        "region_code": entity[:4] + "02", "fiscal_entity_code": entity, "scheme": scheme,
        "unit_funding": unit_funding, "fee_period": period, "declared_on": f"{period}-10",
        "due_on": f"{period}-20", "line_count": len(lines),
        "base_total": format_yuan(sum(b for _, b in people)),
        "employer_total": format_yuan(employer), "employee_total": format_yuan(employee),
        "amount_due": format_yuan(due), "rule_version": "collection/local-sample/1",
        "lines": lines,
    }
    collection.DeclarationRegistered.model_validate(data)  # exactly what collection publishes
    return data


def amount_due(declaration: dict[str, Any]) -> int:
    return parse_yuan(declaration["amount_due"])


def settled(declaration: dict[str, Any], payment_id: str, paid_fen: int,
            total_paid_fen: int | None = None) -> dict[str, Any]:
    due = amount_due(declaration)
    total = paid_fen if total_paid_fen is None else total_paid_fen
    status = "paid" if total == due else ("underpaid" if total < due else "overpaid")
    data = {
        "declaration_id": declaration["declaration_id"], "revision": declaration["revision"],
        "payment_id": payment_id, "paid_on": f"{declaration['fee_period']}-15",
        "due_on": declaration["due_on"],
        "amount_due": format_yuan(due), "amount_paid": format_yuan(paid_fen),
        "amount_paid_total": format_yuan(total),
        "amount_outstanding": format_yuan(max(due - total, 0)),
        "days_late": 0, "late_fee_due": "0.00", "status": status,
    }
    collection.ContributionSettled.model_validate(data)
    return data


def rejected(declaration_id: str) -> dict[str, Any]:
    return collection.DeclarationRejected(
        declaration_id=declaration_id, revision=0, reasons=[collection.DeclarationReason(
            code="REGION_UNKNOWN", line_no=None, field="region_code", message="not ours")],
    ).model_dump()


def collection_records(*events: tuple[str, dict[str, Any]]) -> Records:
    return [("collection.declarations", USCC.encode(),
             cloudevent(event_type, data, source="/collection")) for event_type, data in events]


def declared_and_paid(declaration: dict[str, Any]) -> Records:
    return collection_records(
        ("collection.declaration.registered.v1", declaration),
        ("collection.contribution.settled.v1",
         settled(declaration, run_id("P"), amount_due(declaration))))


async def publish_records(namespace: str, records: Records) -> None:
    """Each topic's records in their order, to the topics of the namespace."""
    for topic in dict.fromkeys(topic for topic, _, _ in records):
        await publish(f"{namespace}.{topic}",
                      [(key, value) for t, key, value in records if t == topic])


def retired(person_id: str, entity: str, retired_on: str, retirement_id: str | None = None,
            **changes: Any) -> Records:
    data = {"retirement_id": retirement_id or run_id("R").upper(), "person_id": person_id,
            "employer_uscc": USCC, "fiscal_entity_code": entity, "retired_on": retired_on,
            **changes}
    return [(hr.TOPIC_HR_EVENTS, entity.encode(),
             cloudevent(hr.MEMBER_RETIRED, data, source=f"/hr/{entity}"))]


def backcredited(person_id: str, entity: str, amount: str, recorded_on: str,
                 backcredit_id: str | None = None, **changes: Any) -> Records:
    data = {"backcredit_id": backcredit_id or run_id("B").upper(), "person_id": person_id,
            "employer_uscc": USCC, "fiscal_entity_code": entity, "amount": amount,
            "recorded_on": recorded_on, "reason_text": "机关事业单位养老保险制度改革前工作年限补记",
            "document_no": "人社〔2025〕3号", **changes}
    return [(hr.TOPIC_HR_EVENTS, entity.encode(),
             cloudevent(hr.BACKCREDIT, data, source=f"/hr/{entity}"))]


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == event_type]


SERVICES = (fund_transfer_spec(), annuity_spec())
QUIET_POLL_S = 0.3


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

    async def balances(self, person_id: str) -> dict[str, int]:
        """A member's sub-ledger balances in fen, from occupational_annuity's journal."""
        conn = await connect_db(f"occupational_annuity_{self.namespace}")
        try:
            row = await conn.fetchrow("SELECT * FROM member_balance WHERE person_id = $1",
                                      person_id)
        finally:
            await conn.close()
        assert row is not None, "no such member"
        return {name.removesuffix("_fen"): row[name] for name in row.keys()  # noqa: SIM118
                if name.endswith("_fen")}

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
