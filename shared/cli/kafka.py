"""Kafka access of the operator tool: bounded reads from the beginning, publishing, group lag.

Reads use no consumer group (nothing is committed, no service group is disturbed) and stop at the
end offsets captured when they start, so a report or trace is a snapshot and always terminates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.cli.common import CliError
from shared.cli.progress import Progress
from shared.kafka_client import KafkaAccess, client_options
from shared.messaging import Record

FETCH_BYTES_MAX: Final = 5 * 1024 * 1024  # a record may be 4 MiB (CONTRACTS.md)
REQUEST_TIMEOUT_MS: Final = 15_000
POLL_TIMEOUT_MS: Final = 500


@asynccontextmanager
async def consumer(access: KafkaAccess) -> AsyncIterator[AIOKafkaConsumer]:
    client = AIOKafkaConsumer(
        **client_options(access), group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", max_partition_fetch_bytes=FETCH_BYTES_MAX,
        request_timeout_ms=REQUEST_TIMEOUT_MS, client_id="pension-ops",
    )
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


@asynccontextmanager
async def admin(access: KafkaAccess) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(**client_options(access), request_timeout_ms=REQUEST_TIMEOUT_MS,
                                 client_id="pension-ops")
    await client.start()
    try:
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def producer(access: KafkaAccess, *, linger_ms: int = 5
                   ) -> AsyncIterator[AIOKafkaProducer]:
    """Idempotent and acks=all: a retried send can neither duplicate nor reorder a key."""
    client = AIOKafkaProducer(
        **client_options(access), enable_idempotence=True, acks="all", linger_ms=linger_ms,
        max_request_size=FETCH_BYTES_MAX, request_timeout_ms=REQUEST_TIMEOUT_MS,
        client_id="pension-ops",
    )
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def partitions_of(client: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """All partitions of a topic; CliError when it does not exist."""
    # partitions_for_topic() on the consumer only knows subscribed topics; ask the cluster.
    cluster = await client._client.fetch_all_metadata()
    partitions = cluster.partitions_for_topic(topic)
    if not partitions:
        raise CliError(f"topic {topic} does not exist")
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def read_to_end(
    client: AIOKafkaConsumer, topics: Sequence[str], *, timeout_s: int,
    progress: Progress | None = None,
) -> AsyncIterator[Record]:
    """Every record of `topics` from the beginning up to the end offsets seen at the start;
    `progress` counts the records read against the offsets to read."""
    partitions = [tp for topic in topics for tp in await partitions_of(client, topic)]
    ends = await client.end_offsets(partitions)
    begins = await client.beginning_offsets(partitions)
    pending = {tp for tp in partitions if ends[tp] > begins[tp]}
    if progress is not None:
        progress.total, progress.done = sum(ends[tp] - begins[tp] for tp in pending), 0
    if not pending:
        if progress is not None:
            progress.finish()
        return
    client.assign(sorted(pending))
    await client.seek_to_beginning(*pending)
    deadline = time.monotonic() + timeout_s
    while pending:
        if time.monotonic() > deadline:
            raise CliError(f"reading {', '.join(topics)} took longer than {timeout_s} s")
        batches = await client.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=5_000)
        for tp, records in batches.items():
            for raw in records:
                if raw.offset < ends[tp]:
                    yield Record.of(raw)
            if progress is not None:
                progress.advance(len(records))
        # Position, not the last offset seen: transaction markers and compaction leave gaps.
        for tp in list(pending):
            if await client.position(tp) >= ends[tp]:
                pending.discard(tp)
    if progress is not None:
        progress.finish()


async def read_one(client: AIOKafkaConsumer, topic: str, partition: int, offset: int,
                   *, timeout_s: int) -> Record:
    tp = TopicPartition(topic, partition)
    if tp not in await partitions_of(client, topic):
        raise CliError(f"{topic} has no partition {partition}")
    begin = (await client.beginning_offsets([tp]))[tp]
    end = (await client.end_offsets([tp]))[tp]
    if not begin <= offset < end:
        raise CliError(f"no record at {partition}:{offset} of {topic} (offsets {begin}..{end - 1})")
    client.assign([tp])
    client.seek(tp, offset)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batches = await client.getmany(tp, timeout_ms=POLL_TIMEOUT_MS, max_records=1)
        for raw in batches.get(tp, []):
            if raw.offset != offset:  # compacted away or a transaction marker
                raise CliError(f"no record at {partition}:{offset} of {topic}")
            return Record.of(raw)
    raise CliError(f"timed out reading {partition}:{offset} of {topic}")


@dataclass(frozen=True, slots=True)
class Lag:
    group: str
    topic: str
    lag: int
    committed: bool  # False: the group never committed on this topic (lag counts from the start)


class LagProbe:
    """Group lag and topic end offsets, on clients kept open across polls (wait-idle polls)."""

    def __init__(self, kafka: AIOKafkaConsumer, admin_client: AIOKafkaAdminClient) -> None:
        self.kafka = kafka
        self.admin = admin_client

    async def lags(self, groups: Mapping[str, Sequence[str]]) -> list[Lag]:
        """Each group's lag on its expected topics and on any other topic it committed on."""
        lags: list[Lag] = []
        for group, expected in groups.items():
            committed = await self.admin.list_consumer_group_offsets(group)
            for topic in sorted(set(expected) | {tp.topic for tp in committed}):
                lags.append(await self._topic_lag(group, topic, committed))
        return lags

    async def end_offsets(self, topics: Sequence[str]) -> dict[str, int]:
        """Sum of end offsets per topic: it grows whenever anything is published there."""
        totals: dict[str, int] = {}
        for topic in topics:
            ends = await self.kafka.end_offsets(await partitions_of(self.kafka, topic))
            totals[topic] = sum(ends.values())
        return totals

    async def _topic_lag(self, group: str, topic: str,
                         committed: dict[TopicPartition, Any]) -> Lag:
        partitions = await partitions_of(self.kafka, topic)
        ends = await self.kafka.end_offsets(partitions)
        begins = await self.kafka.beginning_offsets(partitions)
        lag = 0
        any_committed = False
        for tp in partitions:
            position = committed[tp].offset if tp in committed else -1
            any_committed = any_committed or position >= 0
            # Never committed: everything still on the topic is unconsumed.
            lag += ends[tp] - (position if position >= 0 else begins[tp])
        return Lag(group, topic, lag, any_committed)


@asynccontextmanager
async def lag_probe(access: KafkaAccess) -> AsyncIterator[LagProbe]:
    async with consumer(access) as kafka, admin(access) as admin_client:
        yield LagProbe(kafka, admin_client)


async def send_all(client: AIOKafkaProducer, records: Sequence[tuple[str, bytes | None, bytes,
                                                                     list[tuple[str, bytes]]]]
                   ) -> list[Any]:
    """Send (topic, key, value, headers) records and wait for every acknowledgement, in order."""
    futures = [
        await client.send(topic, value=value, key=key, headers=headers)
        for topic, key, value, headers in records
    ]
    return list(await asyncio.gather(*futures))
