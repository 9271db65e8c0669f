"""`make replay-check`: a month replayed from offset 0 into empty databases gives the same events.

1. Namespace A: the three services (scheduler off), a few unreadable records, the demo month and
   a year's notional interest, fed in steps: after each step the feeder waits until every
   service is idle, and the end offsets of the inbound topics are recorded as a barrier.
2. Namespace B: the same services with fresh schemas and consumer groups. The records of A's
   inbound topics are copied verbatim (key, value, headers, partition, order) into B's, barrier
   by barrier, waiting for B to be idle at each, so B's services see what A's saw in the order
   they saw it. B's outbound topics are then its own.
3. Every outbound topic of A and B is compared key by key: the same events (id, type, source,
   subject, correlation id, `data`, byte for byte), in the same order, each event id counted once
   (a relay may publish an event twice). Only the envelope `time` may differ, and a dead letter's
   `x-failed-at` and `x-consumer-group` headers and its topic names' namespace.

Topics have one partition here: the order of one key's events is defined only among events whose
causes came through one partition (a fiscal entity's ledger is fed by declarations keyed by
employer, on every partition), so with one partition per topic it is total and is compared
whole; `--partitions N` compares each key's events as a set. Exit 0 when the runs agree, 1 with
the first difference printed, 2 when a run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from shared.access import ADMIN
from shared.cli.commands import publish_command
from shared.cli.kafka import producer
from shared.contracts.fields import NotionalInterestRequested
from shared.contracts.registry import NOTIONAL_INTEREST_REQUESTED, TOPIC_OPS_COMMANDS
from shared.contracts.topology import SERVICE_NAMES, TOPICS
from shared.contracts.wire import NotJsonError, loads_strict
from shared.messaging import Record
from tests.faults.invariants import TIME_FIELD
from tests.faults.real_services import (
    ServiceSet,
    feed_month,
    month_config,
    note,
    publish_hostile,
    read_namespace,
    settle,
)
from tests.support import access_of, create_namespace, remove_created, topic_names

INBOUND: Final = tuple(t.name for t in TOPICS if t.partner_producers)
SERVICE_SOURCES: Final = frozenset(f"/{name}" for name in SERVICE_NAMES)
VARYING_HEADERS: Final = frozenset({"x-failed-at", "x-consumer-group"})
"""Dead-letter headers that name when a record failed and which group (namespaced) read it."""
Barrier = dict[tuple[str, int], int]  # (inbound topic, partition) -> end offset


def from_partner(topic: str, record: Record) -> bool:
    """ops.commands carries partners' commands and the services' own answers: only the first are
    input; the services of the replay publish their own answers."""
    if topic != TOPIC_OPS_COMMANDS:
        return True
    try:
        event = loads_strict(record.value or b"")
    except NotJsonError:
        return True
    return not (isinstance(event, dict) and event.get("source") in SERVICE_SOURCES)


# ---- comparing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Published:
    """One outbound record as compared: what must be equal in the two runs."""

    identity: str  # the event id, or a dead letter's original position
    shown: bytes  # value without `time`, or a dead letter's key, value and stable headers


def comparable(topic: str, record: Record, namespace: str) -> Published:
    value = record.value or b""
    if topic.endswith(".dlq"):
        prefix = f"{namespace}.".encode()
        headers = [(name, data.removeprefix(prefix) if name == "x-original-topic" else data)
                   for name, data in record.headers if name not in VARYING_HEADERS]
        origin = dict(headers)
        identity = b"/".join(origin.get(h, b"") for h in (
            "x-original-topic", "x-original-partition", "x-original-offset")).decode()
        return Published(identity, repr((record.key, value, headers)).encode())
    event = loads_strict(value)
    return Published(str(event.get("id")) if isinstance(event, dict) else "?",
                     TIME_FIELD.sub(b'"time":"-"', value))


def by_key(topic: str, records: Sequence[Record], namespace: str) -> dict[bytes, list[Published]]:
    """Each key's records in offset order, each identity once (its first publication)."""
    keyed: dict[bytes, list[Published]] = defaultdict(list)
    seen: set[str] = set()
    for record in records:
        if topic == TOPIC_OPS_COMMANDS and from_partner(topic, record):
            continue
        published = comparable(topic, record, namespace)
        if published.identity not in seen:
            seen.add(published.identity)
            keyed[record.key or b""].append(published)
    return keyed


def first_difference(original: dict[str, list[Record]], replay: dict[str, list[Record]],
                     namespaces: tuple[str, str], *,
                     ordered: bool = True) -> tuple[str | None, int]:
    """The first difference between the runs' outbound topics (None: none), and how many
    records were compared; `ordered=False` compares each key's events as a set (topics of
    several partitions: see the module docstring)."""
    compared = 0
    for topic in outbound_topics():
        left = by_key(topic, original.get(topic, []), namespaces[0])
        right = by_key(topic, replay.get(topic, []), namespaces[1])
        for key in sorted(set(left) | set(right)):
            a, b = left.get(key, []), right.get(key, [])
            if not ordered:
                a, b = sorted(a, key=_identity), sorted(b, key=_identity)
            for position in range(max(len(a), len(b))):
                compared += 1
                if position >= len(a) or position >= len(b) or a[position] != b[position]:
                    return (f"{topic} key {key.decode(errors='replace')} event #{position}:\n"
                            f"  original: {_show(a, position)}\n"
                            f"  replay:   {_show(b, position)}"), compared
    return None, compared


def _identity(published: Published) -> str:
    return published.identity


def _show(published: list[Published], position: int) -> str:
    if position >= len(published):
        return f"(nothing: {len(published)} events on this key)"
    return published[position].shown.decode(errors="replace")[:2000]


def outbound_topics() -> list[str]:
    return sorted({t.name for t in TOPICS if not t.partner_producers}
                  | {f"{name}.dlq" for name in SERVICE_NAMES} | {TOPIC_OPS_COMMANDS})


# ---- running -----------------------------------------------------------------------------------


async def original_run(services: ServiceSet, seed: int, employers: int) -> list[Barrier]:
    barriers: list[Barrier] = []

    async def idle() -> None:
        await settle(services)
        barriers.append(await _inbound_ends(services.namespace))

    services.up()
    await publish_hostile(services)
    await idle()
    await feed_month(services, month_config(seed, employers), idle, idle_between_steps=True)
    # The 2018-2019 backlog holds notional (treasury-funded) money: a year's notional interest
    # posts on it, one event per fiscal entity.
    await publish_command(services.cli_env(), NOTIONAL_INTEREST_REQUESTED,
                          NotionalInterestRequested(command_id=f"replay-{seed}-interest-2020",
                                                    year=2020), "occupational_annuity")
    await idle()
    return barriers


async def _inbound_ends(namespace: str) -> Barrier:
    records = await read_namespace(namespace, INBOUND)
    return {(topic, record.partition): record.offset + 1
            for topic in INBOUND for record in records[topic]}


async def replay_run(services: ServiceSet, source: str, barriers: list[Barrier]) -> None:
    services.up()
    inbound = await read_namespace(source, INBOUND)
    copied: Barrier = {}
    async with producer(access_of(ADMIN)) as kafka:  # verbatim, whoever wrote it
        for barrier in barriers:
            for topic in INBOUND:
                for record in inbound[topic]:
                    position = (topic, record.partition)
                    if (copied.get(position, 0) <= record.offset < barrier.get(position, 0)
                            and from_partner(topic, record)):
                        await kafka.send_and_wait(
                            f"{services.namespace}.{topic}", value=record.value,
                            key=record.key, headers=list(record.headers),
                            partition=record.partition)
            copied = barrier
            await settle(services)


async def replay_check(seed: int, employers: int, workdir: Path, partitions: int = 1) -> int:
    started = time.monotonic()
    original = await create_namespace(partitions=partitions)
    replica = await create_namespace(partitions=partitions)
    first = ServiceSet(original, workdir / "original")
    second = ServiceSet(replica, workdir / "replay")
    try:
        note(f"replay-check: feeding the month (seed {seed}, {employers} employers) "
             f"through namespace {original}")
        barriers = await original_run(first, seed, employers)
        first.down()
        note(f"replay-check: copying {original}'s inbound topics into {replica} from offset 0, "
             f"{len(barriers)} steps")
        await replay_run(second, original, barriers)
        second.down()
        left = await read_namespace(original, topic_names())
        right = await read_namespace(replica, topic_names())
    finally:
        first.down()
        second.down()
    difference, compared = first_difference(left, right, (original, replica),
                                            ordered=partitions == 1)
    seconds = round(time.monotonic() - started)
    if difference is not None:
        print(f"replay-check: the replay DIFFERS (after {compared} records compared, "
              f"{seconds} s):\n{difference}")
        print("replay-check: 0 passed, 1 failed")
        return 1
    counts = {t: len(by_key(t, left.get(t, []), original)) for t in outbound_topics()}
    order = "and in order" if partitions == 1 else "(order not compared: several partitions)"
    print(f"replay-check: the replay published the same {compared} events, key by key {order}, "
          f"on {len(counts)} topics ({seconds} s; seed {seed})")
    print("replay-check: 1 passed, 0 failed")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.replay",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=20250301)
    parser.add_argument("--employers", type=int, default=3000,
                        help="the demo month's size (default 3000, as make demo)")
    parser.add_argument("--partitions", type=int, default=1,
                        help="of every topic (default 1: see above why)")
    args = parser.parse_args(argv)

    async def run() -> int:
        with tempfile.TemporaryDirectory(prefix="replay-check-") as workdir:
            try:
                return await replay_check(args.seed, args.employers, Path(workdir),
                                          args.partitions)
            finally:
                await remove_created()

    try:
        return asyncio.run(run())
    except AssertionError as error:
        print(f"replay-check: a run failed: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
