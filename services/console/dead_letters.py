"""Copy the services' dead letters into the read model, by position.

Dead letters are not CloudEvents (they are whatever could not be read), so they do not go through
the effectively-once layer: a consumer of its own reads `<service>.dlq`, writes each record under
its (topic, partition, offset), idempotently, and commits its offsets only after the database
commit. A crash in between copies the same positions again, which changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from services.console import store
from services.console.domain import DEAD_LETTER_TOPICS
from shared.cli.dlq import DeadLetterView, render_bytes
from shared.contracts.wire import safe_detail
from shared.logging import get_logger
from shared.messaging import TRANSIENT_ERRORS, Backoff, Record, as_connection
from shared.settings import Settings

VALUE_BYTES_KEPT: Final = 256 * 1024
FETCH_BYTES_MAX: Final = 17 * 1024 * 1024  # a dead letter may hold 16 MiB (deploy/topics.txt)
POLL_TIMEOUT_MS: Final = 1_000
RECORDS_PER_POLL_MAX: Final = 200
log = get_logger("console.dead_letters")


def row_of(record: Record, topic_prefix: str) -> tuple[Any, ...]:
    view = DeadLetterView.of(record)
    dlq = view.dlq
    topic = record.topic.removeprefix(topic_prefix)
    headers = {name: render_bytes(value, 1_000)[0] for name, value in view.original_headers
               if name != "x-dlq-detail"}
    detail = next((value for name, value in record.headers if name == "x-dlq-detail"), b"")
    return (
        topic, record.partition, record.offset, topic.removesuffix(".dlq"),
        dlq.get("x-dlq-reason", "?"), safe_detail(detail.decode("utf-8", "replace")),
        dlq.get("x-original-topic", "?").removeprefix(topic_prefix), view.original_position,
        dlq.get("x-consumer-group", "?"), dlq.get("x-failed-at", "?"), record.key,
        (record.value or b"")[:VALUE_BYTES_KEPT], len(record.value or b""),
        orjson.dumps(headers).decode(),
    )


class DeadLetterCopier:
    """Reads every service's dead-letter topic in a consumer group of the console's own."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, kafka_options: dict[str, Any],
                 group: str) -> None:
        self.pool = pool
        self.settings = settings
        self.prefix = f"{settings.namespace}." if settings.namespace else ""
        self.consumer = AIOKafkaConsumer(
            *(self.prefix + topic for topic in DEAD_LETTER_TOPICS), **kafka_options,
            group_id=group, client_id="console-dlq", enable_auto_commit=False,
            auto_offset_reset="earliest", max_partition_fetch_bytes=FETCH_BYTES_MAX,
            fetch_max_bytes=FETCH_BYTES_MAX, request_timeout_ms=settings.kafka_request_timeout_ms)
        self.copied = 0

    async def run(self) -> None:
        """Never ends the process: a broker or database outage delays the copies."""
        backoff = Backoff.of(self.settings, budgeted=False)
        while True:
            try:
                await self.consumer.start()
                break
            except KafkaError as error:
                delay_s = backoff.next_delay_s() or 1.0
                log.warning("dead_letters.connect_retry", error=type(error).__name__)
                await asyncio.sleep(delay_s)
        try:
            await self._copy_forever()
        finally:
            await self.consumer.stop()

    async def _copy_forever(self) -> None:
        backoff = Backoff.of(self.settings, budgeted=False)
        while True:
            batches = await self.consumer.getmany(timeout_ms=POLL_TIMEOUT_MS,
                                                  max_records=RECORDS_PER_POLL_MAX)
            records = [Record.of(raw) for raws in batches.values() for raw in raws]
            if not records:
                continue
            while True:
                try:
                    await self._save(records)
                    await self.consumer.commit()
                    break
                except (*TRANSIENT_ERRORS, KafkaError) as error:
                    delay_s = backoff.next_delay_s() or 1.0
                    log.warning("dead_letters.retry", error=type(error).__name__,
                                delay_ms=round(delay_s * 1000))
                    await asyncio.sleep(delay_s)
            backoff.reset()
            self.copied += len(records)
            log.info("dead_letters.copied", records=len(records))

    async def _save(self, records: Sequence[Record]) -> None:
        async with self.pool.acquire() as proxy, proxy.transaction():
            await store.save_dead_letters(as_connection(proxy),
                                          [row_of(r, self.prefix) for r in records])
