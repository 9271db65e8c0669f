"""Informal load test of collection: lines per second through the running service.

Starts `python -m services.collection` in a fresh namespace (its own topics and schema) as a
separate process, warms it up with one declaration, then publishes a load of valid declarations
and waits until every `collection.declaration.registered.v1` is on the output topic. It prints
the figures; it asserts nothing about speed (TESTING.md: performance is a benchmark, not a test).

    eval "$(bash deploy/stack.sh env)"
    .venv/bin/python bench/collection_load.py                      # both standard loads
    .venv/bin/python bench/collection_load.py --declarations 500 --lines 200
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.collection.app import spec as collection_spec  # noqa: E402
from shared.access import ADMIN  # noqa: E402
from tests.support import (  # noqa: E402
    cloudevent,
    create_namespace,
    kafka_options,
    migrate_for_tests,
    principal_environ,
    remove_created,
)
from tests.unit.collection import factory  # noqa: E402

REGISTERED = b'"type":"collection.declaration.registered.v1"'
REJECTED = b'"type":"collection.declaration.rejected.v1"'
WAIT_S_MAX = 1800.0


@dataclass(frozen=True)
class Load:
    declarations: int
    lines: int


def build(load: Load) -> list[tuple[bytes, bytes]]:
    """Pre-encoded (key, value) records, so generating them is not timed."""
    records = []
    for _ in range(load.declarations):
        data = factory.declaration(bases=("6000.00",) * load.lines)
        records.append((data["employer_uscc"].encode(),
                        cloudevent("tax.contribution.declared.v1", data)))
    return records


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_service(namespace: str) -> subprocess.Popen[bytes]:
    """collection as itself: its principal and database role (migrate_for_tests first)."""
    env = principal_environ("collection", NAMESPACE=namespace, RULE_SET="local",
                            SCHEDULE_ENABLED="false", HTTP_PORT=str(free_port()))
    (REPO / "bench-results").mkdir(exist_ok=True)
    log = (REPO / "bench-results" / f"collection-load-{namespace}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "services.collection"], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


async def publish(topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(**kafka_options(ADMIN), enable_idempotence=True, acks="all",
                                linger_ms=20,
                                max_batch_size=1024 * 1024,
                                max_request_size=5 * 1024 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def count_registered(topic: str, expected: int, started: float) -> tuple[int, float]:
    """Read the output topic until `expected` registered events; the time the last one came."""
    consumer = AIOKafkaConsumer(topic, **kafka_options(ADMIN), group_id=None,
                                auto_offset_reset="earliest",
                                enable_auto_commit=False,
                                max_partition_fetch_bytes=5 * 1024 * 1024)
    await consumer.start()
    registered = rejected = 0
    last = started
    try:
        while registered + rejected < expected and time.monotonic() - started < WAIT_S_MAX:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    registered += REGISTERED in record.value
                    rejected += REJECTED in record.value
                    last = time.monotonic()
    finally:
        await consumer.stop()
    if rejected:
        raise SystemExit(f"{rejected} declarations were rejected: the load is not valid")
    return registered, last


async def run(load: Load, namespace: str) -> None:
    records = build(load)
    source = f"{namespace}.tax.contribution.declarations"
    output = f"{namespace}.collection.declarations"
    started = time.monotonic()
    await publish(source, records)
    published = time.monotonic()
    registered, last = await count_registered(output, load.declarations + 1, started)
    elapsed = last - started
    lines = load.declarations * load.lines
    print(f"{load.declarations:>7} declarations x {load.lines:>4} lines = {lines:>7} lines: "
          f"publish {published - started:6.1f} s, all registered after {elapsed:6.1f} s, "
          f"{lines / elapsed:8.0f} lines/s, {load.declarations / elapsed:7.0f} declarations/s"
          f" ({registered - 1} registered)", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declarations", type=int)
    parser.add_argument("--lines", type=int)
    args = parser.parse_args()
    loads = ([Load(args.declarations, args.lines)] if args.declarations and args.lines
             else [Load(100_000, 1), Load(500, 200)])
    for load in loads:
        namespace = await create_namespace()
        await migrate_for_tests(collection_spec(), namespace)
        service = start_service(namespace)
        try:
            # Warm-up: the group join and migrations are not part of the figure.
            await publish(f"{namespace}.tax.contribution.declarations", build(Load(1, 1)))
            await count_registered(f"{namespace}.collection.declarations", 1, time.monotonic())
            await run(load, namespace)
        finally:
            service.terminate()
            service.wait(timeout=30)
            await remove_created()  # this load's topics and schema


if __name__ == "__main__":
    asyncio.run(main())
