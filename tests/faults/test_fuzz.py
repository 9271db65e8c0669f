"""Seeded fuzz: a few hundred mutated records per service (byte flips, truncations, escapes, huge
and deep values) never stop a service, each is answered exactly once, and the lag returns to 0.

What each record deserves is predicted with the contract's reader (shared.contracts.wire): an
unreadable one must come back as exactly one dead letter at its position; a readable one must be
claimed exactly once in the service's inbox and, for collection and fund_transfer, answered by
exactly one event carrying its correlation id. The seed is printed; set FUZZ_SEED to repeat a run.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest

from services.collection import app as collection_app
from services.fund_transfer import app as fund_transfer_app
from services.occupational_annuity import app as annuity_app
from shared.contracts.registry import ENTITY_FIELDS
from shared.contracts.wire import DeadLetter, read_envelope
from shared.service import Runtime
from tests.support import (
    cloudevent,
    committed_lag,
    connect_db,
    create_namespace,
    publish_each,
    read_to_end,
    service_running,
    wait_for,
)
from tests.unit.collection import factory

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("stack_env")]

RECORDS_PER_SERVICE = 200
SEED = int(os.environ.get("FUZZ_SEED") or random.randrange(2**32))


def mutate(rng: random.Random, value: bytes) -> bytes:
    """One seeded mutation of a valid record."""
    kind = rng.randrange(8)
    if kind == 0:  # flip one to three random bytes
        data = bytearray(value)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    if kind == 1:  # truncate
        return value[: rng.randrange(len(value))]
    quotes = [i for i, byte in enumerate(value) if byte == ord('"')]
    at = rng.choice(quotes) + 1
    if kind == 2:  # an escape that is not text: a lone surrogate, a NUL, a control character
        escape = rng.choice([b"\\ud800", b"\\udfff", b"\\u0000", b"\\u0007", b"\\u001f"])
        return value[:at] + escape + value[at:]
    event = json.loads(value)
    data = event["data"]
    name = rng.choice(sorted(data))
    if kind == 3:  # a huge value
        data[name] = "x" * rng.choice([10_000, 300_000, 1_000_000])
    elif kind == 4:  # a deep value, around the nesting limit
        depth = rng.randint(28, 40)
        data[name] = json.loads("[" * depth + "1" + "]" * depth)
    elif kind == 5:  # a value of another type
        data[name] = rng.choice([None, 0, -1, 10**30, 1.5, True, [], {}, "", "\u200b"])
    elif kind == 6:  # a missing field
        del data[name]
    else:  # many unknown fields
        data.update({f"u{i}": i for i in range(rng.choice([5, 2_000, 60_000]))})
    return json.dumps(event, ensure_ascii=False).encode()


def declaration() -> bytes:
    return cloudevent("tax.contribution.declared.v1", factory.declaration())


def appropriation() -> bytes:
    return cloudevent("finance.subsidy.appropriated.v1", {
        "appropriation_id": f"A-{uuid.uuid4().hex[:12]}", "fiscal_entity_code": "150300",
        "fund": "enterprise_basic_pension", "period": "2098-02", "amount_due": "2.00",
        "due_on": "2098-02-27", "document_no": "乌财社〔2098〕2号"}, source="/finance/150300")


def registered() -> bytes:
    """An annuity declaration as collection registers it (the annuity service's input)."""
    data = factory.declaration(scheme="occupational_annuity")
    line = data["lines"][0]
    return cloudevent("collection.declaration.registered.v1", {
        "declaration_id": data["declaration_id"], "revision": 0, "scheme": data["scheme"],
        "fiscal_entity_code": "150100", "fee_period": "2025-03", "unit_funding": "self",
        "lines": [{k: line[k] for k in ("line_no", "person_id", "employer_amount",
                                        "employee_amount")}]}, source="/fuzz/collection")


@dataclass(frozen=True)
class Target:
    service: str
    topic: str
    key: bytes
    make: Callable[[], bytes]
    handled: frozenset[str]
    answers: tuple[str, ...]  # the topics its answers go to ("" when it answers with none)


TARGETS = (
    Target("collection", "tax.contribution.declarations", b"91110000600037341L", declaration,
           frozenset({"tax.contribution.declared.v1"}), ("collection.declarations",)),
    Target("fund_transfer", "finance.subsidy.appropriations", b"150300", appropriation,
           frozenset({"finance.subsidy.appropriated.v1"}),
           ("transfer.notices", "transfer.obligations")),
    Target("occupational_annuity", "collection.declarations", b"91110000600037341L", registered,
           frozenset({"collection.declaration.registered.v1"}), ()),
)


@dataclass
class Sent:
    target: Target
    value: bytes
    position: tuple[int, int]
    verdict: str  # a dead-letter reason, "handled" or "skipped"
    correlation: str = ""
    event_key: tuple[str, str] = ("", "")


@dataclass
class Run:
    namespace: str
    sent: list[Sent]
    runtimes: dict[str, Runtime]


def predict(target: Target, value: bytes) -> tuple[str, str, tuple[str, str]]:
    try:
        envelope = read_envelope(value, ENTITY_FIELDS)
    except DeadLetter as verdict:
        return verdict.reason, "", ("", "")
    if envelope.type not in target.handled:
        return "skipped", "", ("", "")
    return "handled", envelope.correlation_id, (envelope.source, envelope.id)


@pytest.fixture(scope="module")
async def run() -> AsyncIterator[Run]:
    print(f"fuzz seed {SEED} (FUZZ_SEED={SEED} repeats this run)")
    rng = random.Random(SEED)
    namespace = await create_namespace()
    sent: list[Sent] = []
    async with AsyncExitStack() as running:
        runtimes = {}
        for spec in (collection_app.spec(), fund_transfer_app.spec(), annuity_app.spec()):
            runtimes[spec.name] = await running.enter_async_context(
                service_running(spec, namespace))
        for target in TARGETS:
            values = [mutate(rng, target.make()) for _ in range(RECORDS_PER_SERVICE)]
            positions = await publish_each(f"{namespace}.{target.topic}",
                                           [(target.key, v) for v in values])
            for value, position in zip(values, positions, strict=True):
                sent.append(Sent(target, value, position, *predict(target, value)))
        await wait_for(lambda: drained(namespace), timeout_s=180, what="every group at lag 0")
        yield Run(namespace, sent, runtimes)


async def drained(namespace: str) -> bool:
    lags = [await committed_lag(f"{target.service}_{namespace}", f"{namespace}.{target.topic}")
            for target in TARGETS]
    if any(lags):
        return False
    for target in TARGETS:
        conn = await connect_db(f"{target.service}_{namespace}")
        try:
            if await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
                return False
        finally:
            await conn.close()
    return True


def published_by(service: str, value: bytes) -> dict[str, Any] | None:
    """The event if `service` published it (collection.declarations also carries the records
    fuzzed for the annuity service, which need not even be JSON)."""
    try:
        event = json.loads(value)
    except ValueError:
        return None
    return event if isinstance(event, dict) and event.get("source") == f"/{service}" else None


def test_the_mutations_cover_every_kind_of_answer(run: Run) -> None:
    verdicts = Counter(s.verdict for s in run.sent)
    assert verdicts["handled"] >= 100
    assert verdicts["NOT_JSON"] >= 50
    assert verdicts["NOT_CLOUDEVENT"] + verdicts["UNKNOWN_TYPE"] + verdicts["NO_ENTITY_ID"] > 0


async def test_every_service_is_ready_after_the_fuzz(run: Run) -> None:
    for name, runtime in run.runtimes.items():
        assert runtime.health is not None
        checks = await runtime.health.ready()
        assert all(checks.values()), (name, checks)
        assert runtime.processor is not None
        assert not runtime.processor.halted


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.service)
async def test_every_unreadable_record_is_one_dead_letter_at_its_position(
    run: Run, target: Target,
) -> None:
    letters = Counter(
        (int(r.headers["x-original-partition"]), int(r.headers["x-original-offset"]))
        for r in await read_to_end(f"{run.namespace}.{target.service}.dlq")
        if r.headers["x-original-topic"].decode() == f"{run.namespace}.{target.topic}"
    )
    dead = {s.position: s.verdict for s in run.sent
            if s.target == target and s.verdict not in ("handled", "skipped")}
    assert set(letters) == set(dead), f"seed {SEED}"
    assert set(letters.values()) <= {1}, f"seed {SEED}"


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.service)
async def test_every_readable_record_is_claimed_and_answered_exactly_once(
    run: Run, target: Target,
) -> None:
    handled = [s for s in run.sent if s.target == target and s.verdict == "handled"]
    ours = {s.position for s in run.sent if s.target == target}
    conn = await connect_db(f"{target.service}_{run.namespace}")
    try:
        rows = await conn.fetch("SELECT source, event_id, kafka_partition, kafka_offset FROM inbox"
                                " WHERE topic = $1", f"{run.namespace}.{target.topic}")
    finally:
        await conn.close()
    claimed = {(row["source"], row["event_id"]) for row in rows
               if (row["kafka_partition"], row["kafka_offset"]) in ours}
    assert {s.event_key for s in handled} == claimed, f"seed {SEED}"
    if not target.answers:
        return
    answers: Counter[str] = Counter()
    for topic in target.answers:
        for record in await read_to_end(f"{run.namespace}.{topic}"):
            event = published_by(target.service, record.value)
            if event is not None:
                answers[event["correlationid"]] += 1
    assert {s.correlation: answers[s.correlation] for s in handled} == {
        s.correlation: 1 for s in handled}, f"seed {SEED}"
