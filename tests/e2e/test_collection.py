"""collection on the real broker and database turns tax events into the contracted outcomes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from services.collection import app, store
from services.collection.domain import Account, Book
from services.collection.rules import load_rules
from services.collection.validation import check_declaration
from shared.contracts.collection import EVENT_MODELS
from shared.contracts.fields import CommandRejected
from shared.contracts.wire import payload_hash
from shared.messaging import InboxRaceError
from tests.support import (
    Received,
    cloudevent,
    connect_db,
    create_namespace,
    publish,
    read_topic,
    service_running,
    wait_for,
)
from tests.unit.collection import factory

pytestmark = pytest.mark.usefixtures("stack_env")

DECLARED = "tax.contribution.declared.v1"
PAID = "tax.contribution.paid.v1"
DEADLINE = "ops.deadline_check.requested.v1"


@dataclass
class Stack:
    namespace: str

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    async def declare(self, data: dict[str, Any], **attributes: Any) -> str:
        event_id = attributes.pop("event_id", None) or str(uuid.uuid4())
        value = cloudevent(DECLARED, data, event_id=event_id, **attributes)
        key = data.get("employer_uscc")
        await publish(self.topic("tax.contribution.declarations"),
                      [(key.encode() if isinstance(key, str) else None, value)])
        return event_id

    async def pay(self, data: dict[str, Any], key: str, **attributes: Any) -> str:
        event_id = attributes.pop("event_id", None) or str(uuid.uuid4())
        value = cloudevent(PAID, data, event_id=event_id, **attributes)
        await publish(self.topic("tax.contribution.payments"), [(key.encode(), value)])
        return event_id

    async def command(self, data: dict[str, Any], key: str = "collection") -> str:
        event_id = str(uuid.uuid4())
        value = cloudevent(DEADLINE, data, event_id=event_id, source="/ops/cli")
        await publish(self.topic("ops.commands"), [(key.encode(), value)])
        return event_id

    async def outcomes(self, match: Callable[[dict[str, Any]], bool], count: int,
                       topic: str = "collection.declarations") -> list[dict[str, Any]]:
        """The first `count` events on `topic` that `match`, validated against their model."""
        def matching(records: list[Received]) -> list[dict[str, Any]]:
            return [r.event for r in records if match(r.event)]

        records = await read_topic(self.topic(topic),
                                   until=lambda recs: len(matching(recs)) >= count)
        found = matching(records)
        assert len(found) >= count, f"expected {count} events, got {found}"
        for event in found:
            model = EVENT_MODELS.get(event["type"]) or CommandRejected
            model.model_validate(event["data"])
        return found

    async def of_declaration(self, declaration_id: str, count: int) -> list[dict[str, Any]]:
        return await self.outcomes(lambda e: e["data"].get("declaration_id") == declaration_id,
                                   count)

    async def processed(self, event_id: str) -> None:
        """Wait until the service committed an event and published all it caused."""
        async def done() -> bool:
            try:
                conn = await connect_db(f"collection_{self.namespace}")
            except OSError:
                return False
            try:
                seen = await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1",
                                           event_id)
                backlog = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL")
                return bool(seen) and backlog == 0
            finally:
                await conn.close()

        await wait_for(done, what=f"event {event_id} processed")


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    namespace = await create_namespace()
    async with service_running(app.spec(), namespace):
        yield Stack(namespace)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("collection.") for e in events]


def codes(event: dict[str, Any]) -> list[str]:
    return [r["code"] for r in event["data"]["reasons"]]


async def test_a_valid_declaration_is_registered_with_its_figures(stack: Stack) -> None:
    data = factory.declaration(bases=("4907.00", "24537.00"))
    await stack.declare(data)
    [event] = await stack.of_declaration(data["declaration_id"], 1)
    assert event["type"] == "collection.declaration.registered.v1"
    body = event["data"]
    assert body["fiscal_entity_code"] == "150100"
    assert body["due_on"] == "2025-03-20"
    assert (body["employer_total"], body["employee_total"]) == ("4711.04", "2355.52")
    assert body["amount_due"] == "7066.56"
    assert body["rule_version"] == "prod-2025.1"
    assert [line["person_id"] for line in body["lines"]] == [
        line["person_id"] for line in data["lines"]]
    assert event["subject"] == data["employer_uscc"]


async def test_a_sample_year_names_the_sample_rule_set(stack: Stack) -> None:
    data = factory.declaration(bases=("3000.00",), fee_period="2024-11")
    await stack.declare(data)
    [event] = await stack.of_declaration(data["declaration_id"], 1)
    assert event["data"]["rule_version"] == "local-sample-2025.1"


async def test_an_invalid_declaration_is_rejected_with_its_reason(stack: Stack) -> None:
    data = factory.declaration(region_code="140102")
    await stack.declare(data)
    [event] = await stack.of_declaration(data["declaration_id"], 1)
    assert event["type"] == "collection.declaration.rejected.v1"
    assert codes(event) == ["REGION_UNKNOWN"]


async def test_a_multi_error_declaration_names_every_failing_check(stack: Stack) -> None:
    data = factory.declaration(bases=("6000.00", "6000.00", "6000.00"))
    data["employer_uscc"] = data["employer_uscc"][:-1] + (
        "0" if data["employer_uscc"][-1] != "0" else "1")
    data["lines"][0]["employer_amount"] = "961.00"
    data["lines"][1]["person_id"] = data["lines"][0]["person_id"]
    data["lines"][2]["base"] = "100.00"
    data["lines"][2]["employee_amount"] = 8
    await stack.declare(data)
    [event] = await stack.of_declaration(data["declaration_id"], 1)
    found = {(r["code"], r["line_no"]) for r in event["data"]["reasons"]}
    assert found == {
        ("EMPLOYER_USCC_INVALID", None), ("AMOUNT_MISMATCH", 1), ("PERSON_DUPLICATED", 2),
        ("BASE_OUT_OF_RANGE", 3), ("AMOUNT_MISMATCH", 3), ("AMOUNT_INVALID", 3),
    }


async def test_revisions_replace_until_paid_and_are_refused_after(stack: Stack) -> None:
    first = factory.declaration()
    declaration_id, uscc = first["declaration_id"], first["employer_uscc"]
    second = first | {"revision": 2, "lines": [factory.line(1, "7000.00")]}
    stale = first | {"revision": 1}
    await stack.declare(first)
    await stack.declare(second)
    await stack.declare(stale)
    events = await stack.of_declaration(declaration_id, 3)
    assert types(events) == ["declaration.registered.v1", "declaration.registered.v1",
                             "declaration.rejected.v1"]
    assert events[1]["data"]["replaces_revision"] == 0
    assert codes(events[2]) == ["REVISION_STALE"]
    await stack.pay(factory.payment(declaration_id, "1680.00"), uscc)
    await stack.declare(first | {"revision": 3})
    events = await stack.of_declaration(declaration_id, 5)
    assert events[3]["type"] == "collection.contribution.settled.v1"
    assert events[3]["data"]["revision"] == 2
    assert events[3]["data"]["status"] == "paid"
    assert codes(events[4]) == ["ALREADY_SETTLED"]


async def test_a_repeated_revision_is_silent_and_a_changed_one_conflicts(stack: Stack) -> None:
    data = factory.declaration()
    await stack.declare(data)
    await stack.declare(data)  # another event id, same content: a silent duplicate
    changed = data | {"lines": [factory.line(1, "7000.00")]}
    await stack.declare(changed)
    events = await stack.of_declaration(data["declaration_id"], 2)
    assert types(events) == ["declaration.registered.v1", "declaration.rejected.v1"]
    assert codes(events[1]) == ["CONFLICTING_DUPLICATE"]


async def test_the_same_event_id_with_other_content_conflicts(stack: Stack) -> None:
    data = factory.declaration()
    event_id = await stack.declare(data)
    await stack.declare(data | {"employer_name": "另一个名字"}, event_id=event_id)
    events = await stack.of_declaration(data["declaration_id"], 2)
    assert types(events) == ["declaration.registered.v1", "declaration.rejected.v1"]
    assert codes(events[1]) == ["CONFLICTING_DUPLICATE"]


async def test_a_payment_before_its_declaration_waits_and_settles_on_it(stack: Stack) -> None:
    data = factory.declaration()
    payment = factory.payment(data["declaration_id"], "1440.00", paid_on="2025-03-15")
    await stack.pay(payment, data["employer_uscc"], correlationid="corr-payment")
    # The same payment again under another event id: still one settlement.
    await stack.processed(await stack.pay(payment, data["employer_uscc"]))
    await stack.declare(data, correlationid="corr-declaration")
    events = await stack.of_declaration(data["declaration_id"], 2)
    assert types(events) == ["declaration.registered.v1", "contribution.settled.v1"]
    settled = events[1]
    assert settled["correlationid"] == "corr-declaration"  # the later of its two causes
    assert settled["data"]["status"] == "paid"
    assert settled["data"]["days_late"] == 0


async def test_duplicate_payments_settle_once_and_changed_ones_conflict(stack: Stack) -> None:
    data = factory.declaration()
    uscc = data["employer_uscc"]
    await stack.declare(data)
    await stack.of_declaration(data["declaration_id"], 1)
    payment = factory.payment(data["declaration_id"], "1000.00")
    await stack.pay(payment, uscc)
    await stack.pay(payment, uscc)
    await stack.pay(payment | {"amount_paid": "440.00"}, uscc)
    await stack.pay(factory.payment(data["declaration_id"], "440.00"), uscc)
    events = await stack.of_declaration(data["declaration_id"], 4)
    assert types(events) == ["declaration.registered.v1", "contribution.settled.v1",
                             "payment.rejected.v1", "contribution.settled.v1"]
    assert codes(events[2]) == ["CONFLICTING_DUPLICATE"]
    first, second = events[1]["data"], events[3]["data"]
    assert (first["status"], first["amount_outstanding"]) == ("underpaid", "440.00")
    assert (second["status"], second["amount_paid_total"]) == ("paid", "1440.00")


async def test_overpayment_and_late_payment_are_reported(stack: Stack) -> None:
    # 4 x 24,537.00 at 24% = 23,555.52 due on 2025-03-20.
    data = factory.declaration(bases=("24537.00",) * 4)
    uscc = data["employer_uscc"]
    await stack.declare(data)
    await stack.pay(factory.payment(data["declaration_id"], "10000.00", "2025-04-10"), uscc)
    await stack.pay(factory.payment(data["declaration_id"], "14000.00", "2025-03-20"), uscc)
    events = await stack.of_declaration(data["declaration_id"], 3)
    late, over = events[1]["data"], events[2]["data"]
    assert (late["days_late"], late["late_fee_due"], late["status"]) == (21, "105.00", "underpaid")
    assert (over["days_late"], over["late_fee_due"]) == (0, "0.00")
    assert (over["status"], over["amount_paid_total"], over["amount_outstanding"]) == (
        "overpaid", "24000.00", "0.00")


async def test_payments_for_a_rejected_declaration_are_rejected(stack: Stack) -> None:
    data = factory.declaration(region_code="999999")
    uscc = data["employer_uscc"]
    waiting = factory.payment(data["declaration_id"], "1440.00")
    await stack.pay(waiting, uscc)
    await stack.processed(await stack.pay(waiting, uscc))
    await stack.declare(data)
    await stack.pay(factory.payment(data["declaration_id"], "1440.00"), uscc)
    events = await stack.of_declaration(data["declaration_id"], 3)
    assert types(events) == ["declaration.rejected.v1", "payment.rejected.v1",
                             "payment.rejected.v1"]
    assert codes(events[1]) == codes(events[2]) == ["DECLARATION_REJECTED"]
    assert events[1]["data"]["payment_id"] == waiting["payment_id"]


async def test_a_deadline_check_reports_each_overdue_declaration_once_per_date(
    stack: Stack,
) -> None:
    unpaid = factory.declaration(fee_period="2025-01", declared_on="2025-01-10")  # due 01-20
    paid = factory.declaration(fee_period="2025-01", declared_on="2025-01-10")
    late_comer = factory.declaration(fee_period="2025-01", declared_on="2025-01-10")
    await stack.declare(unpaid)
    await stack.declare(paid)
    await stack.pay(factory.payment(paid["declaration_id"], "1440.00"), paid["employer_uscc"])
    await stack.of_declaration(paid["declaration_id"], 2)
    await stack.of_declaration(unpaid["declaration_id"], 1)
    await stack.processed(await stack.command({"command_id": "check-1", "as_of": "2025-01-30"}))
    await stack.declare(late_comer)
    await stack.of_declaration(late_comer["declaration_id"], 1)
    await stack.processed(await stack.command({"command_id": "check-2", "as_of": "2025-01-30"}))
    events = await stack.of_declaration(late_comer["declaration_id"], 2)
    overdue = events[1]["data"]
    assert (overdue["days_late"], overdue["amount_outstanding"]) == (10, "1440.00")
    assert overdue["late_fee_accrued"] == "7.20"  # 1,440.00 x 0.0005 x 10
    # A marker on the same key (so the same partition, after everything before it).
    marker = factory.declaration(employer_uscc=unpaid["employer_uscc"])
    await stack.declare(marker)
    await stack.of_declaration(marker["declaration_id"], 1)
    unpaid_events = await stack.of_declaration(unpaid["declaration_id"], 2)
    assert types(unpaid_events) == ["declaration.registered.v1", "contribution.overdue.v1"]
    paid_events = await stack.of_declaration(paid["declaration_id"], 2)
    assert "contribution.overdue.v1" not in types(paid_events)


async def test_a_command_with_a_bad_date_is_rejected(stack: Stack) -> None:
    command_id = factory.new_id("C")
    await stack.command({"command_id": command_id, "as_of": "2025-02-30"})
    [event] = await stack.outcomes(
        lambda e: e["type"] == "ops.command.rejected.v1" and e["data"]["command_id"] == command_id,
        1, topic="ops.commands")
    assert event["data"]["service"] == "collection"
    assert codes(event) == ["DATE_INVALID"]


async def test_an_unreadable_record_is_dead_lettered_and_the_next_one_is_handled(
    stack: Stack,
) -> None:
    data = factory.declaration()
    key = data["employer_uscc"].encode()
    await publish(stack.topic("tax.contribution.declarations"),
                  [(key, b"{not json"), (key, cloudevent(DECLARED, data))])
    [registered] = await stack.of_declaration(data["declaration_id"], 1)
    assert registered["type"] == "collection.declaration.registered.v1"
    dead = await read_topic(stack.topic("collection.dlq"),
                            until=lambda recs: any(r.value == b"{not json" for r in recs))
    [letter] = [r for r in dead if r.value == b"{not json"]
    assert letter.headers["x-dlq-reason"] == b"NOT_JSON"
    assert letter.key == key


async def test_two_instances_creating_one_declaration_row_retry_instead_of_halting(
    stack: Stack,
) -> None:
    """A payment and its declaration on two instances both find no row: the second to insert
    must get the retryable InboxRaceError (the layer retries the batch), not a halt."""
    data = factory.declaration()
    declaration_id = data["declaration_id"]
    check = check_declaration(data, declaration_id, load_rules("local"))
    schema = f"collection_{stack.namespace}"
    first, second = await connect_db(schema), await connect_db(schema)

    async def save(conn: Any, hold: asyncio.Event | None = None) -> None:
        async with conn.transaction():
            assert await store.lock_accounts(conn, [declaration_id]) == {}
            book = Book({declaration_id: Account(declaration_id)}, {}, {}, {})
            book.declare(check, payload_hash(DECLARED, data), 0, None)
            await store.save_book(conn, book, set())
            if hold is not None:
                await hold.wait()  # keep the new row uncommitted while the other one inserts

    hold = asyncio.Event()
    try:
        winner = asyncio.create_task(save(first, hold))
        await asyncio.sleep(0.3)
        loser = asyncio.create_task(save(second))
        await asyncio.sleep(0.5)
        assert not loser.done()  # waiting on the winner's uncommitted key
        hold.set()
        await asyncio.wait_for(winner, 10)
        with pytest.raises(InboxRaceError):
            await asyncio.wait_for(loser, 10)
    finally:
        await first.close()
        await second.close()
