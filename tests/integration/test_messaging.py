"""The shared messaging layer gives exactly-once effects on the real broker and database."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.access import ADMIN
from shared.service import Runtime, ServiceSpec
from tests.integration.probe_service import PROBE_DONE_TYPE, PROBE_TYPE, probe_spec
from tests.support import (
    CREATED_SCHEMA_PATTERNS,
    cloudevent,
    committed_lag,
    connect_db,
    create_topics,
    migrate_for_tests,
    principal_environ,
    publish,
    random_name,
    read_topic,
    service_running,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("stack_env")
REPO = Path(__file__).resolve().parents[2]
PROBE_LOG = Path(tempfile.gettempdir()) / f"pension-probe-{os.getpid()}.log"


@dataclass
class Probe:
    name: str
    topic: str

    @property
    def out(self) -> str:
        return f"{self.name}.out"

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


async def new_probe() -> Probe:
    probe = Probe(random_name("probe"), random_name("probe.in"))
    CREATED_SCHEMA_PATTERNS.append(probe.name)
    await create_topics([probe.topic, probe.out, probe.dlq])
    await migrate_for_tests(probe_spec(probe.name, probe.topic))
    return probe


def running(spec: ServiceSpec) -> AbstractAsyncContextManager[Runtime]:
    return service_running(spec, rule_set="production")


def probe_event(probe_id: str, *, event_id: str | None = None, extra: str = "") -> bytes:
    data = {"probe_id": probe_id} | ({"note": extra} if extra else {})
    return cloudevent(PROBE_TYPE, data, event_id=event_id, source="/test/probe")


async def effect_count(probe: Probe) -> int:
    conn = await connect_db(probe.name)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM effect"))
    finally:
        await conn.close()


async def until_effects(probe: Probe, expected: int) -> None:
    async def reached() -> bool:
        try:
            return await effect_count(probe) >= expected
        except Exception:  # the schema appears when the service has migrated
            return False

    await wait_for(reached, what=f"{expected} effect rows in {probe.name}")


async def test_one_event_gives_one_effect_row_and_one_outbound_event() -> None:
    probe = await new_probe()
    async with running(probe_spec(probe.name, probe.topic)):
        await publish(probe.topic, [(b"k1", probe_event("P-1"))])
        await until_effects(probe, 1)
        out = await read_topic(probe.out, until=lambda r: len(r) >= 1)
    assert await effect_count(probe) == 1
    assert [r.event["type"] for r in out] == [PROBE_DONE_TYPE]
    assert out[0].event["data"] == {"probe_id": "P-1"}
    assert out[0].headers["content-type"] == b"application/cloudevents+json"


async def test_same_event_delivered_twice_has_no_second_effect() -> None:
    probe = await new_probe()
    event = probe_event("P-2", event_id="E-2")
    async with running(probe_spec(probe.name, probe.topic)):
        await publish(probe.topic, [(b"k", event), (b"k", event)])
        await publish(probe.topic, [(b"k", probe_event("P-3"))])
        await until_effects(probe, 2)
        out = await read_topic(probe.out, until=lambda r: len(r) >= 2)
        await asyncio.sleep(1)
    assert await effect_count(probe) == 2
    assert sorted(r.event["data"]["probe_id"] for r in out) == ["P-2", "P-3"]


async def test_same_id_with_other_payload_is_recorded_as_conflict_and_stream_goes_on() -> None:
    probe = await new_probe()
    async with running(probe_spec(probe.name, probe.topic)):
        await publish(probe.topic, [(b"k", probe_event("P-4", event_id="E-4"))])
        await until_effects(probe, 1)
        await publish(probe.topic, [(b"k", probe_event("P-4", event_id="E-4", extra="changed")),
                                    (b"k", probe_event("P-5"))])
        await until_effects(probe, 2)
        out = await read_topic(probe.out, until=lambda r: len(r) >= 3)
    conn = await connect_db(probe.name)
    try:
        conflicts = await conn.fetch("SELECT event_id FROM inbox_conflict")
    finally:
        await conn.close()
    assert [row["event_id"] for row in conflicts] == ["E-4"]
    types = [r.event["type"] for r in out]
    assert types.count("test.probe.rejected.v1") == 1
    rejected = next(r for r in out if r.event["type"] == "test.probe.rejected.v1")
    assert rejected.event["data"]["reasons"][0]["code"] == "CONFLICTING_DUPLICATE"


async def test_record_that_is_not_a_cloudevent_is_dead_lettered_with_its_original_bytes() -> None:
    probe = await new_probe()
    original = b'{"hello": "not a cloud event"}'
    async with running(probe_spec(probe.name, probe.topic)):
        await publish(probe.topic, [(b"bad-key", original)],
                      headers=[("x-partner", b"tax-150000")])
        await publish(probe.topic, [(b"k", probe_event("P-6"))])
        await until_effects(probe, 1)
        dead = await read_topic(probe.dlq, until=lambda r: len(r) >= 1)
    assert len(dead) == 1
    letter = dead[0]
    assert letter.value == original
    assert letter.key == b"bad-key"
    assert letter.headers["x-partner"] == b"tax-150000"
    assert letter.headers["x-dlq-reason"] == b"NOT_CLOUDEVENT"
    assert letter.headers["x-original-topic"] == probe.topic.encode()
    assert letter.headers["x-consumer-group"] == probe.name.encode()
    assert {"x-original-partition", "x-original-offset", "x-failed-at"} <= set(letter.headers)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "EMPTY_VALUE"),
        (b"\xff\xfe not utf-8", "NOT_JSON"),
        (b'{"a": NaN}', "NOT_JSON"),
        (b'{"a": 1, "a": 2}', "NOT_JSON"),
        (b"[" * 40 + b"]" * 40, "NOT_JSON"),
        (b'{"n": ' + b"9" * 5000 + b"}", "NOT_JSON"),
        (cloudevent("no.such.type.v1", {"x": 1}), "UNKNOWN_TYPE"),
        (cloudevent(PROBE_TYPE, {"probe_id": None}), "NO_ENTITY_ID"),
        (b" " * (4 * 1024 * 1024 + 1), "TOO_LARGE"),
    ],
)
async def test_unreadable_records_are_dead_lettered_with_their_reason(
    value: bytes, reason: str
) -> None:
    probe = await new_probe()
    async with running(probe_spec(probe.name, probe.topic)):
        await publish(probe.topic, [(b"k", value)])
        await publish(probe.topic, [(b"k", probe_event("P-7"))])
        await until_effects(probe, 1)
        dead = await read_topic(probe.dlq, until=lambda r: len(r) >= 1)
    assert [d.headers["x-dlq-reason"] for d in dead] == [reason.encode()]
    assert dead[0].value == value


def start_probe_process(probe: Probe, **env: str) -> subprocess.Popen[bytes]:
    # The probe is a test's own service: it runs as the super user and the database owner.
    environment = {**principal_environ(ADMIN), "PROBE_NAME": probe.name, "PROBE_TOPIC": probe.topic,
                   "SCHEDULE_ENABLED": "false", "BATCH_TIMEOUT_MS": "50", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.probe_service"], cwd=REPO, env=environment,
        # A file, not a pipe: an unread pipe would block a chatty process once it fills.
        stdout=subprocess.DEVNULL, stderr=PROBE_LOG.open("ab"),
    )


def stop(process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def test_consumer_killed_after_db_commit_before_offset_commit_adds_no_second_effect() -> None:
    probe = await new_probe()
    await publish(probe.topic, [(b"k", probe_event(f"P-{i}")) for i in range(5)])
    crashing = start_probe_process(probe, PENSION_CRASH_AT="after_db_commit")
    try:
        crashing.wait(60)
    finally:
        stop(crashing)
    assert crashing.returncode == -signal.SIGKILL
    effects_before_restart = await effect_count(probe)
    assert effects_before_restart >= 1
    assert await committed_lag(probe.name, probe.topic) == 5  # offsets were never committed
    await restart_and_drain(probe, 5)
    assert await effect_count(probe) == 5


async def restart_and_drain(probe: Probe, expected_effects: int) -> None:
    """Start the probe again and wait until it has handled everything and committed."""
    restarted = start_probe_process(probe)
    try:
        await until_effects(probe, expected_effects)
        await wait_for(lambda: _lag_is(probe, 0), what="offsets committed")
    finally:
        stop(restarted)


async def _lag_is(probe: Probe, expected: int) -> bool:
    return await committed_lag(probe.name, probe.topic) == expected


async def test_relay_killed_between_send_and_mark_resends_the_same_event_id() -> None:
    probe = await new_probe()
    await publish(probe.topic, [(b"k", probe_event("P-R"))])
    crashing = start_probe_process(probe, PENSION_CRASH_AT="relay_after_send")
    try:
        crashing.wait(60)
    finally:
        stop(crashing)
    assert crashing.returncode == -signal.SIGKILL
    restarted = start_probe_process(probe)
    try:
        out = await read_topic(probe.out, until=lambda r: len(r) >= 2)
    finally:
        stop(restarted)
    assert len(out) == 2
    assert out[0].event["id"] == out[1].event["id"]
    # Downstream: a second service consuming the outbound topic applies the event once.
    downstream = Probe(random_name("probe"), probe.out)
    CREATED_SCHEMA_PATTERNS.append(downstream.name)
    await create_topics([downstream.out, downstream.dlq])
    spec = probe_spec(downstream.name, downstream.topic)
    spec = dataclasses.replace(spec, handled_types=frozenset({PROBE_DONE_TYPE}))
    async with running(spec):
        await until_effects(downstream, 1)
        await wait_for(lambda: _lag_is(downstream, 0), what="downstream drained")
    assert await effect_count(downstream) == 1


async def test_shutdown_during_processing_commits_no_unprocessed_record() -> None:
    """Upstream FastStream once committed in-flight records on shutdown; this pins the fix."""
    probe = await new_probe()
    await publish(probe.topic, [(b"k", probe_event(f"P-S{i}")) for i in range(3)])
    process = start_probe_process(probe, PROBE_SLOW_MS="4000")
    try:
        await wait_for(lambda: _probe_is_handling(process), what="probe handling a batch")
        process.send_signal(signal.SIGTERM)  # while the handler sleeps inside its transaction
        process.wait(60)
    finally:
        stop(process)
    committed = 3 - await committed_lag(probe.name, probe.topic)
    assert committed <= await effect_count(probe)  # no offset passed an unprocessed record
    await restart_and_drain(probe, 3)
    assert await effect_count(probe) == 3


async def _probe_is_handling(process: subprocess.Popen[bytes]) -> bool:
    await asyncio.sleep(2.5)  # join the group, fetch, enter the slow handler
    return process.poll() is None


async def test_a_broken_invariant_halts_the_consumer_loudly_and_commits_nothing() -> None:
    probe = await new_probe()
    await publish(probe.topic, [(b"k", probe_event(f"P-B{i}")) for i in range(3)])
    PROBE_LOG.unlink(missing_ok=True)
    process = start_probe_process(probe, PROBE_BROKEN="1")
    try:
        process.wait(60)
    finally:
        stop(process)
    assert process.returncode == 70  # EX_SOFTWARE: a supervisor sees the consumer stopped itself
    assert b"consumer.halted" in PROBE_LOG.read_bytes()
    assert await effect_count(probe) == 0
    assert await committed_lag(probe.name, probe.topic) == 3  # nothing skipped
