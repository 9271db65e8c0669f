"""Under database disconnects, zombies and rebalances every event takes effect exactly once.

Each test injects a fault against real processes (a probe service on the shared messaging layer),
lets the system heal, drains, then checks the invariants of TESTING.md: one effect per input
(I1, I2), outbound duplicates share an event id (I4), lag back to 0 (I8). Loops are bounded in
count and time; the seed is printed.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from shared.access import ADMIN
from tests.integration.probe_service import PROBE_TYPE, probe_spec
from tests.support import (
    CREATED_SCHEMA_PATTERNS,
    cloudevent,
    committed_lag,
    connect_db,
    create_topics,
    database_url,
    migrate_for_tests,
    principal_environ,
    publish,
    random_name,
    read_topic,
    wait_for,
)

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("stack_env")]
REPO = Path(__file__).resolve().parents[2]
EVENT_COUNT = 1500
# Each batch of 100 takes at least this long, so the load lasts ~6 s and faults land inside it.
SLOW_MS = "400"
FAULT_ROUNDS_MAX = 6


def start_probe(name: str, topic: str, log: Path | None = None,
                **env: str) -> subprocess.Popen[bytes]:
    # The probe is a test's own service: it runs as the super user and the database owner.
    environment = {**principal_environ(ADMIN), "PROBE_NAME": name, "PROBE_TOPIC": topic,
                   "SCHEDULE_ENABLED": "false", "BATCH_TIMEOUT_MS": "50",
                   "BATCH_RECORDS_MAX": "100", "KAFKA_SESSION_TIMEOUT_MS": "6000", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.probe_service"], cwd=REPO, env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab") if log is not None else subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def setup_probe() -> tuple[str, str]:
    name, topic = random_name("probe"), random_name("probe.in")
    CREATED_SCHEMA_PATTERNS.append(name)
    await create_topics([topic, f"{name}.out", f"{name}.dlq"], partitions=6)
    await migrate_for_tests(probe_spec(name, topic))
    events = [(f"k{i % 40}".encode(), cloudevent(PROBE_TYPE, {"probe_id": f"P-{i}"},
                                                  source="/test/faults"))
              for i in range(EVENT_COUNT)]
    await publish(topic, events)
    return name, topic


async def effects_done(name: str) -> int:
    try:
        conn = await connect_db(name)
    except OSError:
        return 0
    try:
        return int(await conn.fetchval("SELECT count(*) FROM effect"))
    except asyncpg.UndefinedTableError:  # not migrated yet
        return 0
    finally:
        await conn.close()


async def assert_mid_load(name: str) -> None:
    """Guards each fault test: the fault must land while events are still being handled."""

    async def started() -> bool:
        return await effects_done(name) > 0

    await wait_for(started, timeout_s=60, what="the load to start")
    done = await effects_done(name)
    assert done < EVENT_COUNT, f"fault after the load ({done} of {EVENT_COUNT} done)"


async def check_invariants(name: str, topic: str) -> None:
    async def drained() -> bool:
        return await committed_lag(name, topic) == 0

    await wait_for(drained, timeout_s=120, what="consumer lag 0")
    conn = await connect_db(name)
    try:
        effects = await conn.fetchval("SELECT count(*) FROM effect")
        distinct = await conn.fetchval("SELECT count(DISTINCT probe_id) FROM effect")
        unpublished = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL")
    finally:
        await conn.close()
    assert effects == distinct == EVENT_COUNT
    out = await read_topic(f"{name}.out", until=lambda r: len({x.event["id"] for x in r})
                           >= EVENT_COUNT and unpublished == 0, timeout_s=60)
    by_id: dict[str, str] = {}
    for record in out:
        event = record.event
        assert by_id.setdefault(event["id"], event["data"]["probe_id"]) == (
            event["data"]["probe_id"])
    assert len(by_id) == EVENT_COUNT


async def test_database_backends_terminated_mid_batch_lose_and_double_nothing(
    tmp_path: Path,
) -> None:
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    rng = random.Random(seed)
    name, topic = await setup_probe()
    log = tmp_path / "probe.log"
    process = start_probe(name, topic, log, PROBE_SLOW_MS=SLOW_MS)
    admin = await asyncpg.connect(database_url())
    try:
        await assert_mid_load(name)
        for _ in range(FAULT_ROUNDS_MAX):
            await asyncio.sleep(rng.uniform(0.3, 0.8))
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = $1", name)
        await check_invariants(name, topic)
        assert process.poll() is None, "the consumer should heal, not stop"
        assert "batch.retry" in log.read_text(), "no fault hit a batch: the test proved nothing"
    finally:
        await admin.close()
        stop(process)


async def test_a_paused_zombie_consumer_loses_and_doubles_nothing() -> None:
    name, topic = await setup_probe()
    first = start_probe(name, topic, PROBE_SLOW_MS=SLOW_MS)
    second = start_probe(name, topic, PROBE_SLOW_MS=SLOW_MS)
    try:
        await assert_mid_load(name)
        first.send_signal(signal.SIGSTOP)  # past the 6 s session timeout: the group moves on
        await asyncio.sleep(9)
        first.send_signal(signal.SIGCONT)
        await check_invariants(name, topic)
    finally:
        stop(first)
        stop(second)


async def test_instances_joining_and_leaving_during_load_lose_and_double_nothing() -> None:
    name, topic = await setup_probe()
    first = start_probe(name, topic, PROBE_SLOW_MS=SLOW_MS)
    try:
        await assert_mid_load(name)
        second = start_probe(name, topic, PROBE_SLOW_MS=SLOW_MS)
        await asyncio.sleep(2)
        stop(second)  # SIGTERM mid-batch: a graceful leave
        third = start_probe(name, topic, PROBE_SLOW_MS=SLOW_MS)
        await asyncio.sleep(2)
        third.kill()  # and an abrupt one
        third.wait(10)
        await check_invariants(name, topic)
    finally:
        stop(first)


async def test_lag_is_visible_before_the_drain() -> None:
    """Guards the checks above: with no consumer running, the lag equals what was published."""
    name, topic = await setup_probe()
    assert await committed_lag(name, topic) == EVENT_COUNT
