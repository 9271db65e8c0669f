"""Wait for a Kafka broker and create the project's topics, without a JVM.

Run by deploy/stack.sh with the project venv's Python (aiokafka's admin client);
one Python process does in well under a second what one JVM per topic
(kafka-topics) does in ~3 s each. The broker and the principal (the local stack's
super user) come from the KAFKA_* variables, as for every client (shared/kafka_client.py).

    python deploy/topics.py wait   [--timeout 90]
    python deploy/topics.py ensure [--file deploy/topics.txt]
    python deploy/topics.py list

`ensure` lists the topics once, creates only the missing ones (replication factor 1,
max.message.bytes as the file says, 4259840 by default), then checks every topic of
the file: a wrong max.message.bytes is corrected, a wrong partition count is an
error (it cannot shrink, and growing it moves keys between partitions: that needs a
person).
Exit status: 0 done, 1 failed, 2 broker not reachable before the deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, for_code
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file by stack.sh

from shared.kafka_admin import connect_admin
from shared.kafka_client import KafkaAccess

MAX_MESSAGE_BYTES = "4259840"  # 4 MiB of record + 64 KiB of batch overhead (the default)
REPLICATION_FACTOR = 1
TOPIC_ALREADY_EXISTS = 36
# Right after a KRaft broker starts it can answer requests before it has registered
# itself: topic creation then fails with INVALID_REPLICATION_FACTOR ("only 0 broker(s)
# are registered"). Retried until the deadline, like the broker's retriable errors.
INVALID_REPLICATION_FACTOR = 38
DEFAULT_TOPICS_FILE = Path(__file__).resolve().parent / "topics.txt"


def say(message: str) -> None:
    print(f"stack: {message}", flush=True)


@dataclass(frozen=True)
class Topic:
    partitions: int
    max_message_bytes: str


def read_topics(path: Path) -> dict[str, Topic]:
    """`name partitions [max.message.bytes]` per line; blank lines and # comments ignored."""
    topics: dict[str, Topic] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) not in (2, 3) or not all(f.isascii() and f.isdigit() for f in fields[1:]):
            raise SystemExit(
                f"stack: {path}:{number}: expected 'name partitions [max.message.bytes]', "
                f"got {raw!r}")
        name, partitions = fields[0], int(fields[1])
        if partitions < 1 or name in topics:
            raise SystemExit(f"stack: {path}:{number}: bad or repeated topic {raw!r}")
        topics[name] = Topic(partitions, fields[2] if len(fields) == 3 else MAX_MESSAGE_BYTES)
    return topics


async def topic_partitions(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partition counts of the topics among `names` that exist."""
    found: dict[str, int] = {}
    for topic in await admin.describe_topics(names):
        if topic["error_code"] == 0:
            found[topic["topic"]] = len(topic["partitions"])
    return found


async def max_message_bytes(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, str]:
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, {"max.message.bytes": None})
        for name in names
    ]
    values: dict[str, str] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            if resource["error_code"] != 0:
                raise RuntimeError(
                    f"describe configs of {resource['resource_name']}: "
                    f"{for_code(resource['error_code']).__name__} {resource['error_message']}"
                )
            for entry in resource["config_entries"]:
                if entry["config_names"] == "max.message.bytes":
                    values[resource["resource_name"]] = entry["config_value"]
    return values


async def create_missing(
    admin: AIOKafkaAdminClient, missing: dict[str, Topic], deadline: float
) -> None:
    pending = dict(missing)
    while pending:
        response = await admin.create_topics(
            [
                NewTopic(
                    name,
                    topic.partitions,
                    REPLICATION_FACTOR,
                    topic_configs={"max.message.bytes": topic.max_message_bytes},
                )
                for name, topic in pending.items()
            ],
            timeout_ms=30000,
        )
        retry: dict[str, Topic] = {}
        errors: list[str] = []
        for row in response.to_object()["topic_errors"]:
            name, code = row["topic"], row["error_code"]
            if code in (0, TOPIC_ALREADY_EXISTS):
                continue
            error = for_code(code)
            message = f"{name}: {error.__name__} {row.get('error_message') or ''}".strip()
            if error.retriable or code == INVALID_REPLICATION_FACTOR:
                retry[name] = pending[name]
                if time.monotonic() >= deadline:
                    errors.append(message)
            else:
                errors.append(message)
        if errors:
            raise RuntimeError("cannot create topics: " + "; ".join(errors))
        pending = retry
        if pending:
            await asyncio.sleep(0.5)


async def fix_configs(admin: AIOKafkaAdminClient, wanted: dict[str, str]) -> None:
    # AlterConfigs (not incremental) replaces the topic's whole set of overrides; these
    # topics carry no other override.
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, {"max.message.bytes": value})
        for name, value in wanted.items()
    ]
    for response in await admin.alter_configs(resources):
        for resource in response.to_object()["resources"]:
            if resource["error_code"] != 0:
                raise RuntimeError(
                    f"alter configs of {resource['resource_name']}: "
                    f"{for_code(resource['error_code']).__name__} {resource['error_message']}"
                )


async def ensure(access: KafkaAccess, topics: dict[str, Topic], deadline: float) -> int:
    admin = await connect_admin(access, deadline)
    try:
        names = list(topics)
        existing = set(await admin.list_topics())
        missing = {name: n for name, n in topics.items() if name not in existing}
        if missing:
            await create_missing(admin, missing, deadline)
        # Metadata of freshly created topics can lag a moment behind the controller.
        while True:
            partitions = await topic_partitions(admin, names)
            if len(partitions) == len(names) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
        problems = [
            f"{name} has {partitions.get(name, 0)} partitions, topics.txt says {topic.partitions}"
            for name, topic in topics.items()
            if partitions.get(name) != topic.partitions
        ]
        if problems:
            for problem in problems:
                say(problem)
            say("partition counts differ: fix deploy/topics.txt or start from a fresh state")
            return 1
        wrong = {
            name: topics[name].max_message_bytes
            for name, value in (await max_message_bytes(admin, names)).items()
            if value != topics[name].max_message_bytes
        }
        if wrong:
            await fix_configs(admin, wrong)
            say("set max.message.bytes on " + ", ".join(
                f"{name}={value}" for name, value in sorted(wrong.items())))
        if missing:
            say(f"created {len(missing)} topic(s): {', '.join(sorted(missing))}")
        say(f"{len(topics)} topics ready on {access.kafka_bootstrap_servers}")
        return 0
    finally:
        await admin.close()


async def list_all(access: KafkaAccess, deadline: float) -> int:
    admin = await connect_admin(access, deadline)
    try:
        names = sorted(t for t in await admin.list_topics() if not t.startswith("__"))
        partitions = await topic_partitions(admin, names)
        sizes = await max_message_bytes(admin, names) if names else {}
        for name in names:
            print(f"{name:<34} {partitions.get(name, 0):>3}  max.message.bytes={sizes.get(name)}")
        return 0
    finally:
        await admin.close()


async def wait(access: KafkaAccess, deadline: float) -> int:
    admin = await connect_admin(access, deadline)
    await admin.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("command", choices=["wait", "ensure", "list"])
    parser.add_argument("--file", type=Path, default=DEFAULT_TOPICS_FILE)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds, overall")
    args = parser.parse_args(argv)
    # aiokafka logs every refused connection at ERROR while the broker starts.
    logging.basicConfig(level=logging.CRITICAL)
    deadline = time.monotonic() + args.timeout
    try:
        access = KafkaAccess()  # pyright: ignore[reportCallIssue]  # from the environment
    except ValidationError as error:
        print(f"stack: Kafka settings: {error}", file=sys.stderr)
        return 1
    work: Any
    if args.command == "wait":
        work = wait(access, deadline)
    elif args.command == "list":
        work = list_all(access, deadline)
    else:
        work = ensure(access, read_topics(args.file), deadline)
    try:
        return int(asyncio.run(work))
    except TimeoutError as exc:
        print(
            f"stack: Kafka at {access.kafka_bootstrap_servers} did not answer within "
            f"{args.timeout:g} s ({exc})",
            file=sys.stderr,
        )
        return 2
    except (KafkaError, RuntimeError) as exc:
        print(f"stack: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
