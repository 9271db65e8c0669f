"""The three real services as supervised processes in a namespace, a month fed through them, and
the faults of TESTING.md injected while they work (used by test_real_services and make faults).

Each service runs under deploy/services.sh with its shipped settings (only NAMESPACE, the
supervisor's directory and port base, and SCHEDULE_ENABLED=false: the demo drives the deadline
checks itself); what the harness kills, stops or starves is healed by that supervisor or by
deploy/stack.sh up, never by the harness restarting a service itself. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from demo.feed import Pacing, Publisher, feed
from demo.generate import FeedConfig
from shared.access import ADMIN, FINANCE, OPERATOR, TAX_BUREAU
from shared.cli.common import SERVICES, CliEnv, CliError
from shared.cli.kafka import consumer, partitions_of, read_to_end
from shared.cli.status import SERVICE_INPUTS, http_get, wait_idle
from shared.messaging import Record
from shared.settings import Settings
from tests.support import (
    REPO_ROOT,
    access_of,
    client_config,
    database_url,
    kafka_options,
    principal_environ,
    publish,
)

SETTLE_S_MAX: Final = 600
"""Bound of one wait for the namespace to be idle (the longest fault is a 3-minute outage)."""
READY_S_MAX: Final = 420
"""Bound of the wait for every service to answer /readyz after a fault has been lifted."""
SESSION_TIMEOUT_S: Final = int(Settings.model_fields["kafka_session_timeout_ms"].default) // 1000
"""As shipped: a consumer silent this long loses its partitions."""
FEED_EMPLOYERS: Final = 60
"""A month of 60 employers: ~110 declarations (a 2018-2019 backlog among them), ~850 lines,
~100 payments, 28 subsidy appropriations, two deadline checks and ~70 annuity settlements;
fed in ~30 s on the 2-core machine, so a fault lands while the services are busy."""


def note(text: str) -> None:
    print(f"faults: {text}", file=sys.stderr, flush=True)


def free_port_base(count: int = 8) -> int:
    """`count` consecutive free ports on 127.0.0.1 (bounded search)."""
    for base in random.sample(range(20_000, 30_000, 10), 60):  # not a secret
        with contextlib.ExitStack() as sockets:
            try:
                for port in range(base, base + count):
                    sockets.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise AssertionError(f"no {count} free ports")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass(slots=True)
class ServiceSet:
    """The three services of one namespace under deploy/services.sh, plus any extra instance a
    fault starts beside them (same group, its own health port, its own log)."""

    namespace: str
    directory: Path
    port_base: int = field(default_factory=free_port_base)
    extras: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def environment(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "NAMESPACE": self.namespace,
                "PENSION_SERVICES_DIR": str(self.directory),
                "PENSION_SERVICES_PORT_BASE": str(self.port_base),
                "SCHEDULE_ENABLED": "false", **extra}

    def services_sh(self, *args: str, **extra: str) -> None:
        done = subprocess.run(["bash", str(REPO_ROOT / "deploy" / "services.sh"), *args],
                              env=self.environment(**extra), capture_output=True, text=True,
                              timeout=240, check=False)
        if done.returncode != 0:
            raise AssertionError(f"services.sh {' '.join(args)}: {done.stdout}{done.stderr}")

    def up(self, *names: str, **extra: str) -> None:
        self.services_sh("up", *names, **extra)

    def down(self, *names: str) -> None:
        self.services_sh("down", *names)

    def port(self, service: str) -> int:
        return self.port_base + SERVICES.index(service)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    def cli_env(self) -> CliEnv:
        """The operator's settings on this namespace (the CLI's reports, lags and commands)."""
        return CliEnv.from_environ({
            **client_config(OPERATOR), "NAMESPACE": self.namespace,
            **{f"PENSION_{service.upper()}_URL": self.url(service) for service in SERVICES}})

    def pid(self, service: str) -> int | None:
        """The service's own process (the supervisor's child), if it runs now."""
        try:
            supervisor = int((self.directory / f"{service}.pid").read_text())
        except (OSError, ValueError):
            return None
        for child in _children(supervisor):
            if f"services.{service}" in _cmdline(child):
                return child
        return None

    def signal(self, service: str, signum: signal.Signals) -> int:
        pid = self.pid(service)
        if pid is None:
            raise AssertionError(f"{service} has no running process to send {signum.name}")
        os.kill(pid, signum)
        return pid

    async def ready(self, service: str) -> bool:
        answer = await http_get(self.url(service), "/readyz")
        return answer is not None and answer[0] == 200

    async def readiness(self, service: str) -> dict[str, Any]:
        answer = await http_get(self.url(service), "/readyz")
        return {} if answer is None else dict(json.loads(answer[1]))

    async def wait_ready(self, services: Sequence[str] = SERVICES,
                         timeout_s: float = READY_S_MAX) -> float:
        """Seconds until every service answers /readyz with 200."""
        started = time.monotonic()
        while not all([await self.ready(s) for s in services]):
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"{services} not ready after {timeout_s} s")
            await asyncio.sleep(0.5)
        return time.monotonic() - started

    def start_extra(self, service: str) -> subprocess.Popen[bytes]:
        """A second instance in the same consumer group (not supervised: it is the fault)."""
        port = self.port_base + 4 + len(self.extras)  # after the three and the console
        log = (self.directory / f"{service}-extra.log").open("ab")
        # As the service's own principal and database role, as services.sh starts it.
        environment = principal_environ(
            service, NAMESPACE=self.namespace, SCHEDULE_ENABLED="false", RULE_SET="local",
            HTTP_PORT=str(port))
        process = subprocess.Popen(
            [str(REPO_ROOT / ".venv" / "bin" / "python"), "-m", f"services.{service}"],
            cwd=REPO_ROOT, env=environment, stdout=log, stderr=log)
        self.extras.append(process)
        return process

    def stop_extras(self) -> None:
        for process in self.extras:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
                try:
                    process.wait(45)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)

    def logs(self) -> list[Path]:
        return sorted(self.directory.glob("*.log"))

    def schema(self, service: str) -> str:
        return f"{service}_{self.namespace}"


# ---- waiting until the namespace is idle ------------------------------------------------------


async def unpublished_rows(services: ServiceSet) -> int | None:
    """Outbox rows not yet published in the three schemas; None when the database is away."""
    try:
        conn = await asyncpg.connect(database_url(), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        total = 0
        for service in SERVICES:
            total += int(await conn.fetchval(
                f'SELECT count(*) FROM "{services.schema(service)}".outbox'
                " WHERE published_at IS NULL AND set_aside_at IS NULL"))
        return total
    except asyncpg.UndefinedTableError:
        return None  # not migrated yet
    finally:
        await conn.close()


async def settle(services: ServiceSet, timeout_s: float = SETTLE_S_MAX) -> float:
    """Wait until every service is ready, every outbox drained, every group at lag 0 and no
    topic growing; returns the seconds it took.

    Lag 0 alone is not idle: a service killed after its commit but before its relay published
    leaves nothing to consume until it is back, and a zombie or a stopped database makes
    /readyz say so; an outage of the broker makes the lag probe itself fail, which is retried.
    """
    started = time.monotonic()
    env = services.cli_env()
    while True:
        left_s = timeout_s - (time.monotonic() - started)
        if left_s <= 0:
            raise AssertionError(f"namespace {services.namespace} not idle after {timeout_s} s")
        try:
            await services.wait_ready(timeout_s=left_s)
            if await unpublished_rows(services) == 0:
                await wait_idle(env, timeout_s=max(1, int(left_s)), settle_s=3)
                if (await unpublished_rows(services) == 0
                        and all([await services.ready(s) for s in SERVICES])):
                    return time.monotonic() - started
        except (KafkaError, OSError, CliError, TimeoutError) as error:
            note(f"still settling: {type(error).__name__}")
        await asyncio.sleep(1)


# ---- the load ---------------------------------------------------------------------------------


class PatientPublisher(Publisher):
    """The feeder's publisher, riding through a broker outage: a chunk that failed is sent again
    (a partner system retries; records sent twice are duplicates the inboxes absorb)."""

    async def publish(self, messages: Sequence[Any], label: str) -> None:
        for attempt in range(90):
            try:
                await super().publish(messages, label)
                return
            except KafkaError as error:
                note(f"publishing {label} failed ({type(error).__name__}), attempt {attempt}")
                await asyncio.sleep(2)
        raise AssertionError(f"could not publish {label} in 90 attempts")


def month_config(seed: int, employers: int = FEED_EMPLOYERS) -> FeedConfig:
    return FeedConfig(employers=employers, lines_per_employer=8, seed=seed % 1_000_000_000)


async def feed_month(services: ServiceSet, config: FeedConfig,
                     idle: Callable[[], Awaitable[None]] | None = None,
                     *, idle_between_steps: bool = False) -> dict[str, Any]:
    """The demo month through the services, the feeder waiting on `settle` (or `idle`)."""

    async def settled() -> None:
        await settle(services)

    pacing = Pacing(idle=idle or settled, publisher=PatientPublisher,
                    idle_between_steps=idle_between_steps)
    # The partners publish their own topics, as in production; the operator its commands.
    partners = {principal: access_of(principal) for principal in (TAX_BUREAU, FINANCE)}
    summary = await feed(config, services.cli_env(), inbound_only=False, wait_s=SETTLE_S_MAX,
                         partners=partners, pacing=pacing)
    if summary["missing"]:
        raise AssertionError(f"the month did not go through: {summary['missing']}")
    return summary


HOSTILE: Final[tuple[tuple[str, bytes, bytes], ...]] = (
    ("tax.contribution.declarations", b"91150100MA0N5A7B6L", b"{not json"),
    ("finance.subsidy.appropriations", b"150200",
     b'{"specversion":"1.0","id":"x-1","source":"/finance/150200","type":"no.such.type.v1",'
     b'"time":"2025-03-01T00:00:00+08:00","datacontenttype":"application/json","data":{}}'),
    ("ops.commands", b"all", b""),
)
"""Unreadable records fed with every month: each must become one dead letter of every service
that consumes its topic, with its original key, value and headers (I1, I5)."""


async def publish_hostile(services: ServiceSet) -> None:
    """As each topic's writer (tests.support.publish), so the broker takes them as it would."""
    for topic, key, value in HOSTILE:
        await publish(f"{services.namespace}.{topic}", [(key, value)],
                      headers=[("content-type", b"application/cloudevents+json"),
                               ("x-test", b"hostile")])


# ---- moving a stopped group's offsets ---------------------------------------------------------


async def rewind_group(services: ServiceSet, service: str, records_back: int) -> int:
    """Move the committed offsets of a stopped service's group back by up to `records_back` on
    every partition it consumes; returns how many records it will read again.

    A consumer that only assigns partitions (it never joins) may commit for a group with no
    members, which is what Kafka's own offset reset tool does; here as the super user, as an
    operator's reset tool would be."""
    env = services.cli_env()
    group = env.group(service)
    consumer = AIOKafkaConsumer(**kafka_options(ADMIN), group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions: list[TopicPartition] = []
        for topic in SERVICE_INPUTS[service]:
            partitions += await partitions_of(consumer, env.topic(topic))
        consumer.assign(partitions)
        moved: dict[TopicPartition, OffsetAndMetadata] = {}
        replayed = 0
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed:
                moved[tp] = OffsetAndMetadata(max(0, committed - records_back), "")
                replayed += committed - moved[tp].offset
        await consumer.commit(moved)
        for tp, offset in moved.items():
            assert await consumer.committed(tp) == offset.offset, (tp, "offset not moved")
        return replayed
    finally:
        await consumer.stop()


# ---- reading a namespace ----------------------------------------------------------------------


async def read_namespace(namespace: str, topics: Sequence[str]) -> dict[str, list[Record]]:
    """Every record of each `<namespace>.<topic>` up to its end now, by base topic name."""
    records: dict[str, list[Record]] = {topic: [] for topic in topics}
    for topic in topics:
        async with consumer(access_of(ADMIN)) as kafka:
            async for record in read_to_end(kafka, [f"{namespace}.{topic}"], timeout_s=120):
                records[topic].append(record)
    return records


def run_seconds(started: float) -> float:
    return round(time.monotonic() - started, 1)
