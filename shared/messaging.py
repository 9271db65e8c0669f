"""Effectively-once effects on at-least-once delivery (DESIGN.md).

One consumed batch = one PostgreSQL transaction holding the inbox rows, the service's rows and the
outbox rows (events and dead letters alike); the Kafka offsets are committed only after that
transaction commits. An outbox relay publishes with an idempotent producer and marks rows
published; a crash between the two re-sends the same event id, which consumers' inboxes absorb.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, Protocol, cast

import asyncpg
from aiokafka import errors
from aiokafka.errors import KafkaError

from shared.contracts.fields import cap_reasons
from shared.contracts.registry import TOPIC_OPS_COMMANDS
from shared.contracts.wire import (
    CONTENT_TYPE,
    DeadLetter,
    Envelope,
    echo_text,
    encode_event,
    read_envelope,
    safe_detail,
)
from shared.ids import NAMESPACE
from shared.logging import get_logger
from shared.metrics import Metrics
from shared.settings import CrashPoint, Settings

log = get_logger("messaging")

TRANSIENT_ERRORS: Final = (
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.LockNotAvailableError,
    asyncpg.QueryCanceledError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
    # A backend terminated in the middle of an operation can leave the client's protocol
    # state confused ("cannot switch to state 15; another operation is in progress"); the
    # pool discards that connection and the retry gets a fresh one.
    asyncpg.InternalClientError,
    ConnectionError,
    OSError,
    TimeoutError,
)


@dataclass(slots=True)
class Backoff:
    """Jittered exponential backoff for one run of transient failures.

    With a budget, `next_delay_s` says None once the next attempt would start after the budget:
    the caller then gives up (the consumer halts). Without one it retries for as long as it
    takes (background tasks, which never end the process for a transient cause).
    """

    backoff_ms_min: int
    backoff_ms_max: int
    budget_s: float | None = None
    attempts: int = 0
    started_at: float = field(default_factory=time.monotonic)

    @staticmethod
    def of(settings: Settings, *, budgeted: bool = True) -> Backoff:
        return Backoff(settings.retry_backoff_ms_min, settings.retry_backoff_ms_max,
                       settings.retry_budget_s if budgeted else None)

    def next_delay_s(self) -> float | None:
        self.attempts += 1
        ceiling_ms = min(self.backoff_ms_max,
                         self.backoff_ms_min << min(self.attempts - 1, 30))
        # Equal jitter: instances that failed together do not retry together.
        delay_s = ceiling_ms * random.uniform(0.5, 1.0) / 1000  # noqa: S311
        if self.budget_s is not None and self.elapsed_s + delay_s > self.budget_s:
            return None
        return delay_s

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started_at

    def reset(self) -> None:
        self.attempts = 0
        self.started_at = time.monotonic()


class InboxRaceError(Exception):
    """Another transaction claimed an event id concurrently; retrying the batch resolves it."""


class HaltedError(Exception):
    """The consumer stopped itself after a broken invariant or exhausted retries."""


def as_connection(proxy: Any) -> asyncpg.Connection:
    """A pooled connection proxy behaves as a connection; the stubs type them apart."""
    return cast(asyncpg.Connection, proxy)


def crash_point(settings: Settings, point: CrashPoint) -> None:
    """Fault injection for tests (TESTING.md): die like `kill -9` at a named point; with
    `crash_once_file`, only the first process to reach it dies (it creates the file)."""
    if settings.crash_at != point:
        return
    if settings.crash_once_file is not None:
        try:
            os.close(os.open(settings.crash_once_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    log.warning("crash_point.hit", point=point)
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class Record:
    """What the layer needs of a consumed Kafka record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @staticmethod
    def of(raw: Any) -> Record:
        """From an aiokafka ConsumerRecord (a null header value becomes empty bytes)."""
        headers = tuple((name, value or b"") for name, value in (raw.headers or ()))
        return Record(raw.topic, raw.partition, raw.offset, raw.key, raw.value, headers)

    def key_text(self) -> str | None:
        """The key as text, for an answer keyed like the record (bounded, no control character:
        a partner's key is repeated, never trusted)."""
        return echo_text(self.key.decode("utf-8", "replace")) if self.key else None


@dataclass(frozen=True, slots=True)
class Inbound:
    """A readable event handed to a service, with where it came from and the service's reading
    of its data (`item`, from the service's `Check`; None for a service without one)."""

    record: Record
    envelope: Envelope
    item: object = None

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def data(self) -> dict[str, Any]:
        return self.envelope.data


@dataclass(frozen=True, slots=True)
class Cause:
    """What an outbound event is caused by: fixes its deterministic id and correlation."""

    source: str
    event_id: str
    correlation_id: str

    @staticmethod
    def of(inbound: Inbound) -> Cause:
        envelope = inbound.envelope
        return Cause(envelope.source, envelope.id, envelope.correlation_id)


@dataclass(slots=True)
class Outbox:
    """Events and dead letters to publish, written with the batch's transaction."""

    service: str
    metrics: Metrics
    now: Callable[[], dt.datetime]
    topic_prefix: str = ""
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    _ordinals: dict[tuple[str, str], int] = field(default_factory=dict)
    _time_text: str = ""

    @property
    def _time(self) -> str:
        # One timestamp per batch: the events are published together, and now() per event costs.
        if not self._time_text:
            self._time_text = self.now().isoformat(timespec="milliseconds")
        return self._time_text

    def event(
        self, *, topic: str, key: str, event_type: str, data: dict[str, Any], cause: Cause
    ) -> str:
        """Queue one CloudEvent; its id is uuid5 of the cause and its position among siblings.

        A rejection names at most REASONS_MAX reasons (CONTRACTS.md, bounded work): capped here,
        where every service's rejections pass, so no service can publish an unbounded one.
        """
        if "reasons" in data and event_type.endswith(".rejected.v1"):
            data = {**data, "reasons": cap_reasons(data["reasons"])}
        ordinal = self._ordinals.get((cause.source, cause.event_id), 0)
        self._ordinals[(cause.source, cause.event_id)] = ordinal + 1
        event_id = str(
            uuid.uuid5(
                NAMESPACE,
                f"event/{self.service}/{cause.source}/{cause.event_id}/{ordinal}/{event_type}",
            )
        )
        value = encode_event(
            event_id=event_id,
            source=f"/{self.service}",
            event_type=event_type,
            time=self._time,
            subject=key,
            correlation_id=cause.correlation_id,
            data=data,
        )
        self.rows.append((self.topic_prefix + topic, key.encode(), value, ["content-type"],
                          [CONTENT_TYPE.encode()], event_id, event_type))
        if event_type.endswith(".rejected.v1"):
            for reason in data.get("reasons", ()):
                self.metrics.rejections.labels(self.service, event_type, reason["code"]).inc()
        return event_id

    def dead_letter(self, record: Record, consumer_group: str, verdict: DeadLetter) -> None:
        """The original key, value and headers, plus where it came from and why (I5).

        `x-dlq-detail` adds to CONTRACTS.md's headers what an operator needs to act on the
        letter (which check refused it, or which exception a reader raised).
        """
        reason = verdict.reason
        extra = (
            ("x-dlq-reason", reason),
            ("x-dlq-detail", safe_detail(verdict.detail)),
            ("x-original-topic", record.topic),
            ("x-original-partition", str(record.partition)),
            ("x-original-offset", str(record.offset)),
            ("x-consumer-group", consumer_group),
            ("x-failed-at", self.now().isoformat(timespec="milliseconds")),
        )
        names = [name for name, _ in record.headers] + [name for name, _ in extra]
        values = [value for _, value in record.headers] + [v.encode() for _, v in extra]
        dlq_topic = f"{self.topic_prefix}{self.service}.dlq"
        self.rows.append((dlq_topic, record.key, record.value or b"", names, values, None, None))
        self.metrics.dead_letters.labels(self.service, reason).inc()

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.rows:
            await conn.copy_records_to_table(
                "outbox",
                records=self.rows,
                columns=[
                    "topic", "key", "value", "header_names", "header_values",
                    "event_id", "event_type",
                ],
            )


@dataclass(frozen=True, slots=True)
class Batch:
    """New events of one consumed batch, in consumption order, and newly seen id conflicts."""

    events: list[Inbound]
    conflicts: list[Inbound]


class BatchHandler(Protocol):
    async def __call__(self, conn: asyncpg.Connection, batch: Batch, outbox: Outbox) -> None: ...


Check = Callable[[Inbound], object]
"""A service's reading of one event's `data`: the item its BatchHandler applies (a command, or a
rejection with every reason). Pure and per record, run before the batch's transaction opens."""


def _no_check(event: Inbound) -> object:
    return None


@dataclass(frozen=True, slots=True)
class Handling:
    """What a service plugs into the layer: `check` reads each record on its own (an exception
    there is that record's dead letter, never a halt), `apply` handles a batch of checked events
    inside the batch's transaction (an exception there is systemic: the consumer halts)."""

    apply: BatchHandler
    check: Check = _no_check


UNCHECKABLE: Final = "NOT_CLOUDEVENT"
"""The dead-letter code of a record whose reading raised: CONTRACTS.md has no code of its own for
"this service could not read it", and NOT_CLOUDEVENT (not a CloudEvent this service can read) is
the nearest; the exception's class is in the letter's `x-dlq-detail`."""


@dataclass(slots=True)
class _Sorted:
    dead: list[tuple[Record, DeadLetter]] = field(default_factory=list)
    events: list[Inbound] = field(default_factory=list)
    repeats: list[Inbound] = field(default_factory=list)


_CLAIM_SQL: Final = """
WITH incoming AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::bytea[], $5::text[], $6::int[], $7::bigint[])
        AS t(source, event_id, payload_hash, topic, kafka_partition, kafka_offset)
), inserted AS (
    INSERT INTO inbox (consumer, source, event_id, payload_hash, topic, kafka_partition,
                       kafka_offset)
    SELECT $1, source, event_id, payload_hash, topic, kafka_partition, kafka_offset FROM incoming
    ON CONFLICT DO NOTHING
    RETURNING source, event_id
)
SELECT i.source, i.event_id, ins.event_id IS NOT NULL AS is_new, prior.payload_hash AS prior_hash
FROM incoming i
LEFT JOIN inserted ins ON ins.source = i.source AND ins.event_id = i.event_id
LEFT JOIN inbox prior
       ON prior.consumer = $1 AND prior.source = i.source AND prior.event_id = i.event_id
"""

_RECORD_POSITION_SQL: Final = """
INSERT INTO {table} (topic, kafka_partition, kafka_offset, {columns})
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], {arrays})
ON CONFLICT DO NOTHING
RETURNING topic, kafka_partition, kafka_offset
"""


class BatchProcessor:
    """Turns one consumed batch into one transaction; see the module docstring."""

    def __init__(
        self,
        *,
        service: str,
        consumer_group: str,
        pool: asyncpg.Pool,
        entity_fields: dict[str, str],
        handled_types: frozenset[str],
        handling: Handling,
        settings: Settings,
        metrics: Metrics,
        now: Callable[[], dt.datetime],
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.service = service
        self.consumer_group = consumer_group
        self.pool = pool
        self.entity_fields = entity_fields
        self.handled_types = handled_types
        self.handler = handling.apply
        self.check = handling.check
        self.settings = settings
        self.metrics = metrics
        self.now = now
        self.on_commit = on_commit
        self.halted = False
        self.retrying = False  # a batch is waiting out a transient failure (degraded, unready)
        self.topic_prefix = f"{settings.namespace}." if settings.namespace else ""
        self.ops_topic = self.topic_prefix + TOPIC_OPS_COMMANDS

    def _addressed_to_us(self, record: Record) -> bool:
        """Commands are keyed `all` or by the service they are for (CONTRACTS.md, ops.commands)."""
        if record.topic != self.ops_topic or record.key is None:
            return True
        return record.key in (b"all", self.service.encode())

    def _sort(self, records: Sequence[Record]) -> _Sorted:
        # Counted per topic, not per record: labels() per record showed in profiles.
        for topic, count in Counter(record.topic for record in records).items():
            self.metrics.records_consumed.labels(self.service, topic).inc(count)
        sorted_ = _Sorted()
        seen: dict[tuple[str, str], bytes] = {}
        for record in records:
            try:
                inbound = self._read(record)
            except DeadLetter as verdict:
                sorted_.dead.append((record, verdict))
                continue
            if inbound is None:
                continue  # a known type meant for another service (ops.commands is shared)
            key = (inbound.envelope.source, inbound.envelope.id)
            if key in seen:
                sorted_.repeats.append(inbound)
            else:
                seen[key] = inbound.envelope.payload_hash
                sorted_.events.append(inbound)
        return sorted_

    def _read(self, record: Record) -> Inbound | None:
        """One record, read and checked on its own: whatever it holds, this returns an event,
        returns None (not for this service) or raises DeadLetter; one record never fails the
        batch (a reader's exception is a bug to fix, and meanwhile that record's dead letter)."""
        try:
            envelope = read_envelope(record.value, self.entity_fields)
        except DeadLetter:
            raise
        except Exception as error:
            raise self._unreadable(record, "reading the envelope", error) from error
        if envelope.type not in self.handled_types or not self._addressed_to_us(record):
            return None
        inbound = Inbound(record, envelope)
        try:
            return Inbound(record, envelope, self.check(inbound))
        except Exception as error:
            raise self._unreadable(record, f"checking {envelope.type}", error) from error

    def _unreadable(self, record: Record, stage: str, error: Exception) -> DeadLetter:
        log.error("record.unreadable", stage=stage, error=type(error).__name__,
                  topic=record.topic, partition=record.partition, offset=record.offset)
        return DeadLetter(UNCHECKABLE, f"{type(error).__name__} raised while {stage}: {error}")

    async def process(self, records: Sequence[Record]) -> None:
        """Handle a batch with bounded retries of transient errors; raise HaltedError otherwise."""
        if self.halted:
            raise HaltedError("consumer halted")
        crash_point(self.settings, "after_fetch")
        sorted_ = self._sort(records)
        started = time.perf_counter()
        backoff = Backoff.of(self.settings)
        while True:
            try:
                counts = await self._transaction(sorted_)
                break
            except (*TRANSIENT_ERRORS, InboxRaceError) as error:
                delay_s = backoff.next_delay_s()
                if delay_s is None:
                    self._halt(f"transient errors outlasted the {backoff.budget_s} s retry "
                               "budget", error)
                self.retrying = True
                self.metrics.transient_retries.labels(self.service).inc()
                log.warning("batch.retry", attempt=backoff.attempts,
                            delay_ms=round(delay_s * 1000), elapsed_s=round(backoff.elapsed_s),
                            error=type(error).__name__)
                await asyncio.sleep(delay_s)
            except Exception as error:
                self._halt("invariant or programming error", error)
        if self.retrying:
            log.info("batch.recovered", attempts=backoff.attempts,
                     elapsed_s=round(backoff.elapsed_s, 1))
        self.retrying = False
        crash_point(self.settings, "after_db_commit")
        duration_s = time.perf_counter() - started
        self.metrics.batch_duration.labels(self.service).observe(duration_s)
        for outcome, count in counts.items():
            self.metrics.handled.labels(self.service, outcome).inc(count)
        log.info("batch.handled", records=len(records), duration_ms=round(duration_s * 1000, 1),
                 **counts)
        self.on_commit()

    def _halt(self, why: str, error: BaseException) -> NoReturn:
        self.halted = True
        log.critical("consumer.halted", service=self.service, why=why,
                     error=type(error).__name__, detail=safe_detail(str(error)))
        raise HaltedError(why) from error

    async def _transaction(self, sorted_: _Sorted) -> dict[str, int]:
        outbox = Outbox(self.service, self.metrics, self.now, self.topic_prefix)
        async with self.pool.acquire() as proxy, proxy.transaction():
            conn = as_connection(proxy)
            dead = await self._claim_dead_letters(conn, sorted_.dead)
            for record, verdict in dead:
                outbox.dead_letter(record, self.consumer_group, verdict)
            new, duplicates, conflicts = await self._claim_events(conn, sorted_)
            conflicts = await self._record_conflicts(conn, conflicts)
            crash_point(self.settings, "mid_transaction")
            if new or conflicts:
                await self.handler(conn, Batch(new, conflicts), outbox)
            await outbox.flush(conn)
        return {
            "new": len(new), "duplicate": duplicates, "conflict": len(conflicts),
            "dead_letter": len(dead), "published": len(outbox.rows),
        }

    async def _claim_dead_letters(
        self, conn: asyncpg.Connection, dead: list[tuple[Record, DeadLetter]]
    ) -> list[tuple[Record, DeadLetter]]:
        """Only positions not seen before: a redelivered unreadable record is dead-lettered once."""
        if not dead:
            return []
        sql = _RECORD_POSITION_SQL.format(
            table="dead_letter", columns="reason, detail", arrays="$4::text[], $5::text[]"
        )
        rows = await conn.fetch(
            sql,
            [r.topic for r, _ in dead], [r.partition for r, _ in dead],
            [r.offset for r, _ in dead], [v.reason for _, v in dead],
            [safe_detail(v.detail) for _, v in dead],
        )
        fresh = {(row[0], row[1], row[2]) for row in rows}
        return [(r, v) for r, v in dead if (r.topic, r.partition, r.offset) in fresh]

    async def _claim_events(
        self, conn: asyncpg.Connection, sorted_: _Sorted
    ) -> tuple[list[Inbound], int, list[Inbound]]:
        events = sorted_.events
        if not events:
            return [], len(sorted_.repeats), []
        rows = await conn.fetch(
            _CLAIM_SQL, self.consumer_group,
            [e.envelope.source for e in events], [e.envelope.id for e in events],
            [e.envelope.payload_hash for e in events], [e.record.topic for e in events],
            [e.record.partition for e in events], [e.record.offset for e in events],
        )
        verdicts = {(row["source"], row["event_id"]): row for row in rows}
        new: list[Inbound] = []
        conflicts: list[Inbound] = []
        duplicates = 0
        hashes: dict[tuple[str, str], bytes] = {}
        for event in events:
            key = (event.envelope.source, event.envelope.id)
            row = verdicts[key]
            if row["is_new"]:
                new.append(event)
                hashes[key] = event.envelope.payload_hash
                continue
            if row["prior_hash"] is None:
                raise InboxRaceError(str(key))
            hashes[key] = row["prior_hash"]
            if row["prior_hash"] == event.envelope.payload_hash:
                duplicates += 1
            else:
                conflicts.append(event)
        for repeat in sorted_.repeats:
            key = (repeat.envelope.source, repeat.envelope.id)
            if hashes.get(key) == repeat.envelope.payload_hash:
                duplicates += 1
            else:
                conflicts.append(repeat)
        return new, duplicates, conflicts

    async def _record_conflicts(
        self, conn: asyncpg.Connection, conflicts: list[Inbound]
    ) -> list[Inbound]:
        if not conflicts:
            return []
        sql = _RECORD_POSITION_SQL.format(
            table="inbox_conflict",
            columns="consumer, source, event_id, payload_hash, value",
            arrays="$4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[]",
        )
        rows = await conn.fetch(
            sql,
            [c.record.topic for c in conflicts], [c.record.partition for c in conflicts],
            [c.record.offset for c in conflicts], [self.consumer_group] * len(conflicts),
            [c.envelope.source for c in conflicts], [c.envelope.id for c in conflicts],
            [c.envelope.payload_hash for c in conflicts],
            [c.record.value or b"" for c in conflicts],
        )
        fresh = {(row[0], row[1], row[2]) for row in rows}
        return [
            c for c in conflicts if (c.record.topic, c.record.partition, c.record.offset) in fresh
        ]


class Producer(Protocol):
    async def send(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Awaitable[Any]: ...


EVENT_VALUE_BYTES_MAX: Final = 1024 * 1024
"""CONTRACTS.md: no outbound record is ever larger than 1 MiB, dead letters aside."""

REFUSED_FOR_GOOD: Final = (
    errors.MessageSizeTooLargeError,
    errors.RecordTooLargeError,
    errors.RecordListTooLargeError,
    errors.InvalidTopicError,
    errors.TopicAuthorizationFailedError,
    errors.UnknownTopicOrPartitionError,
    errors.CorruptRecordException,
    errors.UnsupportedForMessageFormatError,
    errors.InvalidRequestError,
)
"""What the broker or the producer refuses about one row whatever the retries: the row leaves the
head of the line (set aside, with its reason) instead of stopping every row behind it."""

_PENDING_ROWS_SQL: Final = """
WITH pending AS (
    SELECT id, octet_length(value) + coalesce(octet_length(key), 0) AS row_bytes
    FROM outbox WHERE published_at IS NULL AND set_aside_at IS NULL ORDER BY id LIMIT $1
), bounded AS (
    SELECT id FROM (
        SELECT id, sum(row_bytes) OVER (ORDER BY id) - row_bytes AS bytes_before FROM pending
    ) running WHERE bytes_before < $2
)
SELECT o.id, o.topic, o.key, o.value, o.header_names, o.header_values
FROM outbox o JOIN bounded USING (id) ORDER BY o.id
"""


@dataclass(slots=True)
class _Sent:
    """What became of one relay batch, row by row."""

    published: list[int] = field(default_factory=list)
    set_aside: list[tuple[int, str, str]] = field(default_factory=list)  # id, topic, reason
    retry_error: BaseException | None = None


class OutboxRelay:
    """Publishes unpublished outbox rows in id order and marks them; one relay per schema at once.

    A transaction-scoped advisory lock keeps a second instance of the service from publishing the
    same rows concurrently, which would break per-key order. Each row is marked as soon as the
    broker acknowledged it, whatever happens to the rows after it; a row refused for good is set
    aside with its reason; a transient failure leaves the rest for the next round.
    """

    def __init__(
        self,
        *,
        service: str,
        pool: asyncpg.Pool,
        producer: Any,
        dead_letter_producer: Any,
        settings: Settings,
        metrics: Metrics,
        schema: str,
    ) -> None:
        self.service = service
        self.schema = schema
        self.pool = pool
        self.producer = producer
        self.dead_letter_producer = dead_letter_producer
        self.settings = settings
        self.metrics = metrics
        self.wakeup = asyncio.Event()
        self._stopping = False
        self._dlq_suffix = ".dlq"

    def stop(self) -> None:
        self._stopping = True
        self.wakeup.set()

    async def run(self) -> None:
        backoff = Backoff.of(self.settings, budgeted=False)
        while not self._stopping:
            try:
                published = await self.publish_once()
            except (*TRANSIENT_ERRORS, KafkaError) as error:
                # The rows stay unpublished and are sent again: a broker or database outage
                # delays events, it never loses them (readiness shows the wait: outbox age).
                delay_s = backoff.next_delay_s() or 0.0
                log.warning("relay.retry", attempt=backoff.attempts, error=type(error).__name__,
                            delay_ms=round(delay_s * 1000))
                await asyncio.sleep(delay_s)
                continue
            backoff.reset()
            if published == 0:
                self.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), self.settings.relay_idle_ms / 1000)

    async def publish_once(self) -> int:
        """One batch: returns how many rows it published; raises the transient error, if any,
        after marking what was acknowledged before it."""
        async with self.pool.acquire() as proxy, proxy.transaction():
            conn = as_connection(proxy)
            if not await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext($1))", f"relay:{self.schema}"
            ):
                return 0
            rows = await conn.fetch(_PENDING_ROWS_SQL, self.settings.relay_batch_size_max,
                                    self.settings.relay_batch_bytes_max)
            if not rows:
                self.metrics.outbox_backlog.labels(self.service).set(0)
                return 0
            sent = await self._send(rows)
            crash_point(self.settings, "relay_after_send")
            await self._mark(conn, sent)
        for topic, count in Counter(row["topic"] for row in rows
                                    if row["id"] in set(sent.published)).items():
            self.metrics.events_published.labels(self.service, topic).inc(count)
        if sent.retry_error is not None:
            raise sent.retry_error
        return len(sent.published) + len(sent.set_aside)

    async def _send(self, rows: Sequence[asyncpg.Record]) -> _Sent:
        sent = _Sent()
        pending: list[tuple[asyncpg.Record, Awaitable[Any]]] = []
        for row in rows:
            try:
                pending.append((row, await self._send_one(row)))
            except REFUSED_FOR_GOOD as error:
                sent.set_aside.append((row["id"], row["topic"], _refusal(error)))
            except KafkaError as error:
                sent.retry_error = error  # the rows after this one wait, in order
                break
        results = await asyncio.gather(*(future for _, future in pending),
                                       return_exceptions=True)
        for (row, _), result in zip(pending, results, strict=True):
            if not isinstance(result, BaseException):
                sent.published.append(row["id"])
            elif isinstance(result, REFUSED_FOR_GOOD):
                sent.set_aside.append((row["id"], row["topic"], _refusal(result)))
            elif isinstance(result, KafkaError | TimeoutError):
                sent.retry_error = sent.retry_error or result
            else:
                raise result
        return sent

    async def _send_one(self, row: asyncpg.Record) -> Awaitable[Any]:
        headers = list(zip(row["header_names"], row["header_values"], strict=True))
        if row["topic"].endswith(self._dlq_suffix):
            return await self.dead_letter_producer.send(  # type: ignore[no-any-return]
                row["topic"], value=row["value"], key=row["key"], headers=headers)
        if len(row["value"]) > EVENT_VALUE_BYTES_MAX:
            raise errors.MessageSizeTooLargeError(
                f"{len(row['value'])} bytes > {EVENT_VALUE_BYTES_MAX} (an outbound event)")
        return await self.producer.send(  # type: ignore[no-any-return]
            row["topic"], value=row["value"], key=row["key"], headers=headers)

    async def _mark(self, conn: asyncpg.Connection, sent: _Sent) -> None:
        if sent.published:
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                sent.published)
        if sent.set_aside:
            await conn.execute(
                "UPDATE outbox SET set_aside_at = now(), set_aside_reason = r.reason"
                " FROM unnest($1::bigint[], $2::text[]) AS r(id, reason) WHERE outbox.id = r.id",
                [id_ for id_, _, _ in sent.set_aside], [reason for _, _, reason in sent.set_aside])
            for id_, topic, reason in sent.set_aside:
                log.error("relay.set_aside", outbox_id=id_, topic=topic, reason=reason)
                self.metrics.outbox_set_aside.labels(self.service, reason.split(":", 1)[0]).inc()


def _refusal(error: BaseException) -> str:
    """The reason kept with a set-aside row: the error's class, then what it said."""
    return safe_detail(f"{type(error).__name__}: {error}")
