"""The composition root every service shares: broker, pool, processor, relay, health, schedule.

A service supplies a `ServiceSpec` (its name, topics, handled types, batch handler and migrations)
and gets a FastStream app whose subscriber consumes in batches with manual acknowledgement: the
offsets are committed only after the batch's database transaction commits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker, KafkaMessage

from shared.access import RUNS_WITH_A_ROLE, database_role
from shared.clock import Clock, SystemClock
from shared.contracts.assessment import ASSESSMENT_REQUESTED
from shared.contracts.registry import ENTITY_FIELDS, TOPIC_OPS_COMMANDS
from shared.db import check_migrated, create_pool, migrate
from shared.http import HealthServer
from shared.kafka_client import broker_security, client_options
from shared.logging import configure_logging, get_logger
from shared.messaging import (
    TRANSIENT_ERRORS,
    Backoff,
    BatchProcessor,
    Cause,
    HaltedError,
    Handling,
    Outbox,
    OutboxRelay,
    Record,
    as_connection,
)
from shared.metrics import Metrics
from shared.settings import MigrationSettings, Settings

PRODUCER_REQUEST_BYTES_MAX = 5 * 1024 * 1024
# A dead letter carries the original value whole, and a value that arrived compressed under the
# 4 MiB topic limit can be several times larger once read (CONTRACTS.md, TOO_LARGE): its producer
# compresses, and may send what the dead-letter topics accept compressed (deploy/topics.txt).
DEAD_LETTER_REQUEST_BYTES_MAX = 64 * 1024 * 1024
log = get_logger("service")


@dataclass(slots=True)
class Runtime:
    """What exists only while the app runs; filled in at start-up, never at import."""

    settings: Settings
    metrics: Metrics
    clock: Clock = field(default_factory=SystemClock)
    pool: asyncpg.Pool | None = None
    producer: AIOKafkaProducer | None = None
    dead_letter_producer: AIOKafkaProducer | None = None
    processor: BatchProcessor | None = None
    relay: OutboxRelay | None = None
    health: HealthServer | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    broker: KafkaBroker | None = None
    failed: bool = False
    # The outbox as the watcher last saw it (every WATCH_INTERVAL_S): readiness and status
    # read these, so a probe never waits on a count.
    outbox_pending: int = 0
    outbox_set_aside: int = 0
    outbox_oldest_s: float = 0.0

    def details(self) -> dict[str, int | float]:
        details: dict[str, int | float] = {
            "outbox_pending": self.outbox_pending, "outbox_set_aside": self.outbox_set_aside,
            "outbox_oldest_unpublished_s": round(self.outbox_oldest_s, 1),
            "restarts": self.settings.restarts}
        if self.settings.last_exit_code is not None:
            details["last_exit_code"] = self.settings.last_exit_code
        return details


HandlerFactory = Callable[[Runtime], Handling]
GaugeRow = tuple[str, str, int]
"""(gauge name, fiscal entity code or "", value): a business figure operators ask about."""
BusinessGauges = Callable[[asyncpg.Connection], Awaitable[list[GaugeRow]]]
WATCH_INTERVAL_S = 5.0
EXIT_STOPPED_ITSELF = 70


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    topics: tuple[str, ...]
    handled_types: frozenset[str]
    handler_factory: HandlerFactory
    migrations_package: str
    http_port_default: int
    scheduled_command_types: tuple[str, ...] = ()
    description: str = ""
    business_gauges: BusinessGauges | None = None
    entity_fields: dict[str, str] = field(default_factory=lambda: ENTITY_FIELDS)
    # Serves /healthz, /readyz and /metrics on the service's port. A service with pages of its
    # own (the console) passes a HealthServer that also serves them, on the same port.
    http_server: Callable[..., HealthServer] = HealthServer

    @property
    def migration_packages(self) -> list[str]:
        return ["shared.migrations", self.migrations_package]

    @property
    def runtime_role(self) -> str | None:
        """The database role the service runs as; None for a test-only service (the probe)."""
        return database_role(self.name) if self.name in RUNS_WITH_A_ROLE else None


async def _no_decode(message: Any) -> None:
    """Records are decoded by the messaging layer, which knows how to dead-letter bad ones."""
    return


def build_app(spec: ServiceSpec, settings: Settings) -> tuple[FastStream, Runtime]:
    runtime = Runtime(settings=settings, metrics=Metrics(spec.name))
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=broker_security(settings),
        # Topics come from deploy/topics.txt; a service may not create any (ACLs refuse it).
        allow_auto_create_topics=False,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        client_id=spec.name,
        enable_idempotence=True,
        acks="all",
    )

    @broker.subscriber(
        *(settings.topic(topic) for topic in spec.topics),
        group_id=settings.schema_for(spec.name),
        batch=True,
        max_records=settings.batch_records_max,
        batch_timeout_ms=settings.batch_timeout_ms,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        max_partition_fetch_bytes=PRODUCER_REQUEST_BYTES_MAX,
        fetch_max_bytes=settings.kafka_fetch_bytes_max,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
        decoder=_no_decode,
        title=f"{spec.name}/consume",
        description=spec.description,
    )
    async def consume(message: KafkaMessage) -> None:  # annotated: the whole batch
        processor = runtime.processor
        assert processor is not None
        raw = message.raw_message
        records = [Record.of(r) for r in (raw if isinstance(raw, tuple) else (raw,))]
        try:
            await processor.process(records)
        except HaltedError:
            # Rewind so no offset passes the failed batch, then stop the process loudly.
            await message.nack()
            _request_exit()
            await asyncio.sleep(3600)
            return
        await message.ack()

    app = FastStream(broker, logger=None)
    runtime.broker = broker

    @app.on_startup
    async def start_resources() -> None:
        await _start(spec, runtime)

    @app.after_startup
    async def start_background() -> None:
        await _start_background(spec, runtime)

    @app.after_shutdown
    async def stop_resources() -> None:
        await _stop(runtime)

    return app, runtime


def _request_exit() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


async def _start(spec: ServiceSpec, runtime: Runtime) -> None:
    settings = runtime.settings
    schema = settings.schema_for(spec.name)
    runtime.pool = pool = await create_pool(settings, schema, spec.name)
    async with pool.acquire() as conn:
        await check_migrated(as_connection(conn), schema, spec.migration_packages)
    runtime.producer = _relay_producer(settings, spec.name, PRODUCER_REQUEST_BYTES_MAX)
    runtime.dead_letter_producer = _relay_producer(
        settings, spec.name, DEAD_LETTER_REQUEST_BYTES_MAX, compression_type="gzip")
    await runtime.producer.start()
    await runtime.dead_letter_producer.start()
    runtime.relay = relay = OutboxRelay(
        service=spec.name, pool=pool, producer=runtime.producer,
        dead_letter_producer=runtime.dead_letter_producer, settings=settings,
        metrics=runtime.metrics, schema=schema,
    )
    runtime.processor = BatchProcessor(
        service=spec.name,
        consumer_group=schema,
        pool=pool,
        entity_fields=spec.entity_fields,
        handled_types=spec.handled_types,
        handling=spec.handler_factory(runtime),
        settings=settings,
        metrics=runtime.metrics,
        now=runtime.clock.now,
        on_commit=relay.wakeup.set,
    )


def _relay_producer(settings: Settings, service: str, request_bytes_max: int,
                    compression_type: str | None = None) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=f"{service}-relay",
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_request_size=request_bytes_max,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        compression_type=compression_type,
    )


async def _start_background(spec: ServiceSpec, runtime: Runtime) -> None:
    assert runtime.relay is not None
    _background(runtime, runtime.relay.run(), "outbox-relay")
    runtime.health = spec.http_server(
        host=runtime.settings.http_host,
        port=(spec.http_port_default if runtime.settings.http_port is None
              else runtime.settings.http_port),
        registry=runtime.metrics.registry,
        ready=lambda: _ready(runtime),
        alive=lambda: _consumer_running(runtime),
        details=runtime.details,
    )
    runtime.metrics.consumer_running.labels(spec.name).set_function(
        lambda: float(_consumer_running(runtime)))
    port = await runtime.health.start()
    log.info("service.started", service=spec.name, http_port=port)
    _background(runtime, _watch(spec, runtime), "watch")
    if runtime.settings.schedule_enabled and spec.scheduled_command_types:
        _background(runtime, _schedule(spec, runtime), "schedule")


def _consumer_running(runtime: Runtime) -> bool:
    return runtime.processor is not None and not runtime.processor.halted and not runtime.failed


def _background(runtime: Runtime, work: Coroutine[Any, Any, None], name: str) -> None:
    """A background task that dies unexpectedly stops the service loudly, never silently."""
    task = asyncio.create_task(work, name=name)
    runtime.tasks.append(task)

    def on_done(done: asyncio.Task[None]) -> None:
        if done.cancelled() or done.exception() is None:
            return
        runtime.failed = True
        log.critical("task.failed", task=name, error=type(done.exception()).__name__,
                     detail=str(done.exception()))
        _request_exit()

    task.add_done_callback(on_done)


async def _watch(spec: ServiceSpec, runtime: Runtime) -> None:
    """Refresh the gauges: consumer lag per partition, outbox backlog, business figures.

    A figure that cannot be read now (database or broker away, a partition moving in a
    rebalance) is read on the next round; the watcher itself never ends the service.
    """
    while True:
        await asyncio.sleep(WATCH_INTERVAL_S)
        try:
            await _refresh_lag(spec, runtime)
        except KafkaError as error:  # IllegalStateError: the partition just left this consumer
            log.info("watch.lag_skipped", error=type(error).__name__)
        try:
            await _refresh_database_gauges(spec, runtime)
        except (*TRANSIENT_ERRORS, asyncpg.PostgresError) as error:
            log.warning("watch.failed", error=type(error).__name__)


async def _refresh_lag(spec: ServiceSpec, runtime: Runtime) -> None:
    assert runtime.broker is not None
    for subscriber in runtime.broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is None:
            continue
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            if highwater is None:
                continue
            position = await consumer.position(partition)
            runtime.metrics.consumer_lag.labels(
                spec.name, partition.topic, str(partition.partition)
            ).set(max(0, highwater - position))


_OUTBOX_STATE_SQL = """
SELECT count(*) FILTER (WHERE set_aside_at IS NULL) AS pending,
       count(*) FILTER (WHERE set_aside_at IS NOT NULL) AS set_aside,
       coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE set_aside_at IS NULL)),
                0)::float8 AS oldest_s
FROM outbox WHERE published_at IS NULL
"""


async def _refresh_database_gauges(spec: ServiceSpec, runtime: Runtime) -> None:
    assert runtime.pool is not None
    async with runtime.pool.acquire() as proxy:
        conn = as_connection(proxy)
        row = await conn.fetchrow(_OUTBOX_STATE_SQL)
        assert row is not None
        runtime.outbox_pending, runtime.outbox_set_aside = row["pending"], row["set_aside"]
        runtime.outbox_oldest_s = row["oldest_s"]
        runtime.metrics.outbox_backlog.labels(spec.name).set(row["pending"])
        runtime.metrics.outbox_set_aside_rows.labels(spec.name).set(row["set_aside"])
        runtime.metrics.outbox_oldest_unpublished.labels(spec.name).set(row["oldest_s"])
        if spec.business_gauges is not None:
            runtime.metrics.set_business(await spec.business_gauges(conn))


READY_PROBE_TIMEOUT_S = 2.0


async def _ready(runtime: Runtime) -> dict[str, bool]:
    """Each check says what it sees now: while an outage lasts the service is alive (it retries)
    but not ready, and says which part is missing."""
    checks = {"database": False, "kafka": False}
    if runtime.pool is not None:
        try:
            async with runtime.pool.acquire(timeout=READY_PROBE_TIMEOUT_S) as conn:
                checks["database"] = await conn.fetchval("SELECT true") is True
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            checks["database"] = False
    if runtime.producer is not None:
        try:
            async with asyncio.timeout(READY_PROBE_TIMEOUT_S):
                cluster = await runtime.producer.client.fetch_all_metadata()
            checks["kafka"] = bool(cluster.brokers())
        except (KafkaError, OSError, TimeoutError):
            checks["kafka"] = False
    processor = runtime.processor
    checks["consumer_running"] = processor is not None and not processor.halted
    checks["consumer_committing"] = processor is not None and not processor.retrying
    checks["outbox_publishing"] = (
        runtime.outbox_oldest_s <= runtime.settings.outbox_unpublished_age_s_max)
    return checks


SCHEDULE_SLEEP_S_MAX = 3600.0  # wake at least hourly: a suspended host or a clock change is seen


async def _schedule(spec: ServiceSpec, runtime: Runtime) -> None:
    """Publish this service's scheduled commands (daily, and the monthly assessment) through its
    own outbox, so they are auditable and replayable: each day from the day after the latest
    recorded (every missed day, in order) through the latest day whose hour has come. The very
    first start only records its day."""
    hour = runtime.settings.schedule_hour_local
    while True:
        now = runtime.clock.now()
        latest_due = now.date() if now.hour >= hour else now.date() - dt.timedelta(days=1)
        await _publish_due_days(spec, runtime, latest_due)
        next_run = (now.replace(hour=hour, minute=0, second=0, microsecond=0)
                    + dt.timedelta(days=1 if now.hour >= hour else 0))
        await asyncio.sleep(min((next_run - now).total_seconds(), SCHEDULE_SLEEP_S_MAX))


async def _publish_due_days(spec: ServiceSpec, runtime: Runtime, latest_due: dt.date) -> None:
    """Retried until it succeeds: a database outage delays the commands, it never skips a day."""
    backoff = Backoff.of(runtime.settings, budgeted=False)
    while True:
        try:
            days = await publish_scheduled_commands(spec, runtime, latest_due)
        except TRANSIENT_ERRORS as error:
            delay_s = backoff.next_delay_s() or 0.0
            log.warning("schedule.retry", attempt=backoff.attempts, error=type(error).__name__,
                        delay_ms=round(delay_s * 1000))
            await asyncio.sleep(delay_s)
            continue
        if days:
            log.info("schedule.published", days=[day.isoformat() for day in days])
            assert runtime.relay is not None
            runtime.relay.wakeup.set()
        return


async def publish_scheduled_commands(
    spec: ServiceSpec, runtime: Runtime, latest_due: dt.date
) -> list[dt.date]:
    """One transaction: the commands of every day not yet recorded up to `latest_due`, and the
    record of those days (an advisory lock keeps two instances from publishing a day twice).
    With nothing recorded yet, `latest_due` is recorded unpublished: the first start of a
    scheduler is where its history begins, not a day to send a check for."""
    assert runtime.pool is not None
    prefix = f"{runtime.settings.namespace}." if runtime.settings.namespace else ""
    outbox = Outbox(spec.name, runtime.metrics, runtime.clock.now, prefix)
    async with runtime.pool.acquire() as proxy, proxy.transaction():
        conn = as_connection(proxy)
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                           f"schedule:{runtime.settings.schema_for(spec.name)}")
        latest_done = await conn.fetchval("SELECT max(as_of) FROM scheduled_day")
        if latest_done is None:
            await conn.execute("INSERT INTO scheduled_day (as_of, published) VALUES ($1, false)",
                               latest_due)
            return []
        days = [latest_done + dt.timedelta(days=n)
                for n in range(1, (latest_due - latest_done).days + 1)]
        for day in days:
            for command_type in spec.scheduled_command_types:
                data = scheduled_command(spec.name, command_type, day,
                                         runtime.settings.assessment_day_of_month)
                if data is not None:
                    cause = Cause(f"/{spec.name}/schedule", data["command_id"],
                                  data["command_id"])
                    outbox.event(topic=TOPIC_OPS_COMMANDS, key=spec.name,
                                 event_type=command_type, data=data, cause=cause)
        await conn.executemany("INSERT INTO scheduled_day (as_of, published) VALUES ($1, true)",
                               [(day,) for day in days])
        await outbox.flush(conn)
    return days


def scheduled_command(service: str, command_type: str, day: dt.date,
                      assessment_day: int) -> dict[str, str] | None:
    """The data of a scheduled command of `day`, or None when it is not due that day. A deadline
    check is daily; the assessment (考核) of the previous month is monthly, on `assessment_day`,
    after that month's remittances and appropriations fell due. Ids derive from the day, so a
    day published twice (it never is: scheduled_day records it) would be one command."""
    if command_type != ASSESSMENT_REQUESTED:
        return {"command_id": f"schedule-{service}-{day.isoformat()}", "as_of": day.isoformat()}
    if day.day != assessment_day:
        return None
    period = (day.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    return {"command_id": f"schedule-{service}-assessment-{period}", "period": period,
            "as_of": day.isoformat()}


async def _stop(runtime: Runtime) -> None:
    if runtime.relay is not None:
        runtime.relay.stop()
    for task in runtime.tasks:
        task.cancel()
    await asyncio.gather(*runtime.tasks, return_exceptions=True)
    if runtime.health is not None:
        await runtime.health.stop()
    for producer in (runtime.producer, runtime.dead_letter_producer):
        if producer is not None:
            await producer.stop()
    if runtime.pool is not None:
        await runtime.pool.close()


async def migrate_schema(spec: ServiceSpec, settings: MigrationSettings) -> list[str]:
    """Apply the service's migrations as the database owner and grant its role its rights."""
    schema = settings.schema_for(spec.name)
    pool = await asyncpg.create_pool(dsn=settings.database_url.get_secret_value(), min_size=1,
                                     max_size=1, timeout=settings.db_connect_timeout_ms / 1000)
    assert pool is not None
    try:
        return await migrate(pool, schema, spec.migration_packages, spec.runtime_role)
    finally:
        await pool.close()


def run_service(spec: ServiceSpec) -> None:
    """`python -m services.<name>`: settings from the environment, then run until a signal.

    `python -m services.<name> migrate` instead applies the migrations (DATABASE_URL: the
    database owner) and exits; the service then runs as its own role.
    """
    configure_logging()
    if sys.argv[1:] == ["migrate"]:
        migration = MigrationSettings()  # pyright: ignore[reportCallIssue]  # from the environment
        applied = asyncio.run(migrate_schema(spec, migration))
        log.info("service.migrated", service=spec.name,
                 schema=migration.schema_for(spec.name), applied=applied)
        return
    settings = Settings()  # pyright: ignore[reportCallIssue]  # filled from the environment
    app, runtime = build_app(spec, settings)
    asyncio.run(app.run())
    if runtime.failed or (runtime.processor is not None and runtime.processor.halted):
        # EX_SOFTWARE: the consumer stopped itself (a broken invariant, transient errors past the
        # retry budget, a background task that died); a supervisor restarts it and says why.
        sys.exit(EXIT_STOPPED_ITSELF)
