"""deploy/stack.sh on a running stack: `up` is idempotent and the topics are as declared."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.support import declared_topics

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack_env")]

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "deploy" / "stack.sh"
MAX_MESSAGE_BYTES = "4259840"  # 4 MiB records + 64 KiB batch overhead
DEAD_LETTER_MAX_MESSAGE_BYTES = "16842752"  # 16 MiB + 64 KiB: a TOO_LARGE letter, compressed


def test_topics_file_declares_the_system_topics() -> None:
    topics = declared_topics()
    assert topics["ops.commands"] == (1, MAX_MESSAGE_BYTES)
    assert {topics[n] for n in topics if n.endswith(".dlq")} == {(3, DEAD_LETTER_MAX_MESSAGE_BYTES)}
    assert {size for name, (_, size) in topics.items() if not name.endswith(".dlq")} == {
        MAX_MESSAGE_BYTES}
    assert len(topics) == 13


def test_second_up_says_already_up_and_changes_nothing() -> None:
    result = subprocess.run(
        ["bash", str(STACK), "up"],
        capture_output=True,
        text=True,
        timeout=180,
        env=os.environ.copy(),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stack: already up" in result.stdout, result.stdout + result.stderr
    assert "starting" not in result.stdout


async def test_every_declared_topic_exists_with_its_partitions_and_size_limit(
    stack_env: dict[str, str],
) -> None:
    topics = declared_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics(list(topics))}
        responses = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, name, {"max.message.bytes": None})
                for name in topics
            ]
        )
    finally:
        await admin.close()

    partitions = {
        name: len(t["partitions"]) for name, t in described.items() if t["error_code"] == 0
    }
    assert partitions == {name: count for name, (count, _) in topics.items()}

    max_bytes: dict[str, str] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            assert resource["error_code"] == 0, resource
            for entry in resource["config_entries"]:
                if entry["config_names"] == "max.message.bytes":
                    max_bytes[resource["resource_name"]] = entry["config_value"]
    assert max_bytes == {name: size for name, (_, size) in topics.items()}
