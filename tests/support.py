"""Helpers for tests against the real broker and database: topics, publishing, reading, waiting.

Every client here authenticates as a principal of shared/access.py, with the settings the local
stack prints for it (`deploy/stack.sh client-config PRINCIPAL`): inbound events go out as the
partner that publishes them in production, services run as their own principal and database
role, records are read back as the operator. Only what the tests create for themselves (topics,
the ACLs of their namespace, the probe service's topics) is done as the super user `admin`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.access import ADMIN, OPERATOR, RUNS_WITH_A_ROLE, Acl, acls, writer_of
from shared.contracts.wire import CONTENT_TYPE
from shared.kafka_admin import create_acls, delete_acls
from shared.kafka_client import KafkaAccess, client_options
from shared.service import Runtime, ServiceSpec, build_app, migrate_schema
from shared.settings import MigrationSettings, Settings

WAIT_S_MAX = 60.0
# What tests create on the shared broker and database, removed at the end of the session so
# test topics do not pile up on the local broker (tests/conftest.py).
CREATED_TOPICS: list[str] = []
CREATED_SCHEMA_PATTERNS: list[str] = []
CREATED_ACLS: list[Acl] = []
REPO_ROOT = Path(__file__).resolve().parents[1]
_NAMESPACED = re.compile(r"\At[0-9a-f]{12}\.")


@functools.cache
def client_config(principal: str, *flags: str) -> dict[str, str]:
    """The KEY=value settings the local stack prints for a principal (its Kafka credentials and,
    for a service, its DATABASE_URL); the protocol follows KAFKA_SECURITY_PROTOCOL or `--tls`."""
    result = subprocess.run(["bash", str(REPO_ROOT / "deploy" / "stack.sh"), "client-config",
                             principal, *flags], capture_output=True, text=True, timeout=60,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"client-config {principal}: {result.stderr.strip()}")
    lines = (line.partition("=") for line in result.stdout.splitlines() if "=" in line)
    return {key: value for key, _, value in lines}


def access_of(principal: str) -> KafkaAccess:
    return KafkaAccess.from_mapping(client_config(principal))


def kafka_options(principal: str = ADMIN) -> dict[str, Any]:
    """aiokafka client arguments (address and credentials) of a principal."""
    return client_options(access_of(principal))


def principal_environ(principal: str, **extra: str) -> dict[str, str]:
    """The environment of a subprocess acting as `principal` (nothing of the caller's)."""
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith("KAFKA_") and k != "DATABASE_URL"}
    return {**inherited, "DATABASE_URL": database_url(), **client_config(principal), **extra}


def _base_topic(topic: str) -> str:
    return _NAMESPACED.sub("", topic)


def _is_project_topic(topic: str) -> bool:
    return _base_topic(topic) in topic_names()


def database_url() -> str:
    """The database owner's URL (deploy/stack.sh env): migrations, inspection, clean-up."""
    return os.environ["DATABASE_URL"]


def random_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


TOPIC_BYTES_MAX_DEFAULT = "4259840"  # deploy/topics.txt: 4 MiB of record + 64 KiB overhead


async def create_topics(names: list[str], partitions: int = 3) -> None:
    """Topics as deploy/topics.txt declares them (size limit), with `partitions` each; a name
    "<namespace>.<topic>" takes the limit of its topic."""
    CREATED_TOPICS.extend(names)
    declared = declared_topics()
    admin = AIOKafkaAdminClient(**kafka_options(ADMIN))
    await admin.start()
    try:
        await admin.create_topics([
            NewTopic(name, partitions, 1, topic_configs={"max.message.bytes": declared.get(
                name.split(".", 1)[-1], (0, TOPIC_BYTES_MAX_DEFAULT))[1]})
            for name in names
        ])
    finally:
        await admin.close()


def cloudevent(event_type: str, data: dict[str, Any], *, source: str = "/tax/150000",
               event_id: str | None = None, **attributes: Any) -> bytes:
    event = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": dt.datetime.now(dt.UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
        **attributes,
    }
    return json.dumps(event, ensure_ascii=False).encode()


async def publish(topic: str, records: Sequence[tuple[bytes | None, bytes | None]],
                  headers: list[tuple[str, bytes]] | None = None,
                  as_principal: str | None = None) -> None:
    """Publish as `as_principal`, by default as `writer(topic)`."""
    producer = AIOKafkaProducer(**kafka_options(as_principal or writer(topic)),
                                enable_idempotence=True,
                                acks="all", max_request_size=5 * 1024 * 1024)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key,
                                headers=headers or [("content-type", CONTENT_TYPE.encode())])
            for key, value in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def publish_each(
    topic: str, records: Sequence[tuple[bytes | None, bytes | None]], *,
    compression: str | None = None, headers: list[tuple[str, bytes]] | None = None,
) -> list[tuple[int, int]]:
    """Publish records one after the other (each acknowledged before the next, so their order
    on a partition is the order given); returns each record's (partition, offset). Published as
    `writer(topic)`."""
    producer = AIOKafkaProducer(**kafka_options(writer(topic)), enable_idempotence=True,
                                acks="all", max_request_size=64 * 1024 * 1024,
                                compression_type=compression)
    await producer.start()
    try:
        positions = []
        for key, value in records:
            sent = await producer.send_and_wait(
                topic, value=value, key=key,
                headers=headers or [("content-type", CONTENT_TYPE.encode())])
            positions.append((sent.partition, sent.offset))
        return positions
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.value)  # type: ignore[no-any-return]


async def read_topic(topic: str, *, until: Callable[[list[Received]], bool],
                     timeout_s: float = WAIT_S_MAX) -> list[Received]:
    """Read a topic from the beginning (no group) until `until(records)` or the timeout, as the
    operator (who reads every project topic), or as admin for a test's own topics."""
    consumer = AIOKafkaConsumer(**kafka_options(reader_of(topic)), enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None,
                                max_partition_fetch_bytes=5 * 1024 * 1024)
    await consumer.start()
    received: list[Received] = []
    try:
        partitions = await partitions_of(consumer, topic)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not until(received):
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for records in batches.values():
                received.extend(
                    Received(r.topic, r.partition, r.offset, r.key, r.value,
                             dict(r.headers or ()))
                    for r in records
                )
    finally:
        await consumer.stop()
    return received


def writer(topic: str) -> str:
    """Whoever publishes that topic in production; the super user for a test's own topics."""
    return writer_of(_base_topic(topic)) if _is_project_topic(topic) else ADMIN


def reader_of(topic: str) -> str:
    return OPERATOR if _is_project_topic(topic) else ADMIN


async def read_to_end(topic: str) -> list[Received]:
    """Every record of `topic` up to its end offsets as they are now."""
    consumer = AIOKafkaConsumer(**kafka_options(reader_of(topic)), group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(consumer, topic)]
        total = sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()
    records = await read_topic(topic, until=lambda r: len(r) >= total, timeout_s=30)
    assert len(records) >= total, (topic, len(records), total)
    return records


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    # partitions_for_topic() only knows subscribed topics; ask the cluster for all of them.
    cluster = await consumer._client.fetch_all_metadata()
    return set(cluster.partitions_for_topic(topic) or ())


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = WAIT_S_MAX,
                   what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def committed_lag(group: str, topic: str) -> int:
    """Records of `topic` not yet committed by `group` (end offset minus committed offset)."""
    options = kafka_options(reader_of(topic))
    consumer = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(**options)
    await consumer.start()
    await admin.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(consumer, topic)]
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        return sum(
            ends[tp] - (committed[tp].offset if tp in committed and committed[tp].offset >= 0
                        else 0)
            for tp in partitions
        )
    finally:
        await consumer.stop()
        await admin.close()


async def remove_created() -> None:
    """Delete the topics, ACLs and schemas this session created."""
    if CREATED_TOPICS or CREATED_ACLS:
        admin = AIOKafkaAdminClient(**kafka_options(ADMIN))
        await admin.start()
        try:
            if CREATED_TOPICS:
                await admin.delete_topics(sorted(set(CREATED_TOPICS)))
            await delete_acls(admin, CREATED_ACLS)
        finally:
            await admin.close()
        CREATED_TOPICS.clear()
        CREATED_ACLS.clear()
    if CREATED_SCHEMA_PATTERNS:
        conn = await asyncpg.connect(database_url())
        try:
            schemas = await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE ANY($1::text[])",
                CREATED_SCHEMA_PATTERNS)
            for row in schemas:
                await conn.execute(f'DROP SCHEMA "{row[0]}" CASCADE')
        finally:
            await conn.close()
        CREATED_SCHEMA_PATTERNS.clear()


def console_environ(directory: Path, service_urls: dict[str, str]) -> dict[str, str]:
    """What the console needs besides Settings: secret files of mode 600 (as deploy/stack.sh
    makes them) and the health URLs of the services it shows."""
    files = {}
    for name in ("password", "session_key"):
        path = directory / f"console-{name}"
        path.write_text(uuid.uuid4().hex)
        path.chmod(0o600)
        files[f"CONSOLE_{name.upper()}_FILE"] = str(path)
    return {**files, **{f"PENSION_{name.upper()}_URL": url
                        for name, url in service_urls.items()}}


async def connect_db(schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(database_url(), server_settings={"search_path": schema})


@functools.cache
def declared_topics() -> dict[str, tuple[int, str]]:
    """deploy/topics.txt: name -> (partitions, max.message.bytes)."""
    topics: dict[str, tuple[int, str]] = {}
    for raw_line in (REPO_ROOT / "deploy" / "topics.txt").read_text().splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if line:
            name, partitions, *size = line.split()
            topics[name] = (int(partitions), size[0] if size else TOPIC_BYTES_MAX_DEFAULT)
    return topics


def topic_names() -> list[str]:
    """The topics of deploy/topics.txt (name only)."""
    return list(declared_topics())


def new_schema_namespace() -> str:
    """A fresh namespace whose schemas (`<service>_<ns>`) are dropped at the end of the session."""
    namespace = "t" + uuid.uuid4().hex[:12]
    CREATED_SCHEMA_PATTERNS.append(f"%\\_{namespace}")
    return namespace


async def create_namespace(partitions: int = 3) -> str:
    """A fresh namespace: every project topic as "<ns>.<topic>" (3 partitions), own schemas,
    and the production ACL set (shared/access.py) for these topics and groups."""
    namespace = new_schema_namespace()
    await create_topics([f"{namespace}.{name}" for name in topic_names()], partitions=partitions)
    await add_acls(acls(namespace))
    return namespace


async def add_acls(rules: list[Acl]) -> None:
    CREATED_ACLS.extend(rules)
    admin = AIOKafkaAdminClient(**kafka_options(ADMIN))
    await admin.start()
    try:
        await create_acls(admin, rules)
    finally:
        await admin.close()


def principal_of(spec: ServiceSpec) -> str:
    """A service runs as itself; a test-only service (the probe) as the super user."""
    return spec.name if spec.name in RUNS_WITH_A_ROLE else ADMIN


def settings_for_tests(namespace: str = "", principal: str = ADMIN,
                       **overrides: object) -> Settings:
    """A service's settings as `principal`, with that principal's database role if it has one
    (else the owner's)."""
    config = client_config(principal)
    values: dict[str, object] = {
        **{k.lower(): v for k, v in config.items()},
        "database_url": config.get("DATABASE_URL", database_url()),
        "schedule_enabled": False,
        "batch_timeout_ms": 50,
        "http_port": 0,
        "namespace": namespace,
        "rule_set": "local",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@asynccontextmanager
async def service_running(spec: ServiceSpec, namespace: str = "",
                          **overrides: object) -> AsyncIterator[Runtime]:
    """Migrate its schema as the owner, then run the service as its own principal and role in
    this event loop until the block ends."""
    await migrate_for_tests(spec, namespace)
    app, runtime = build_app(spec, settings_for_tests(namespace, principal_of(spec), **overrides))
    await app.start()
    try:
        yield runtime
    finally:
        await app.stop()


async def migrate_for_tests(spec: ServiceSpec, namespace: str = "") -> None:
    await migrate_schema(spec, MigrationSettings(database_url=database_url(),
                                                 namespace=namespace))
