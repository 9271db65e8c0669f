"""deploy/stack.sh on a running stack: `up` is idempotent and the topics are as declared."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.access import ADMIN, OPERATOR, PRINCIPALS
from shared.cli.status import http_get
from tests.support import client_config, create_namespace, declared_topics, kafka_options, wait_for

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
    assert len(topics) == 16  # with hr.annuity.events, console.dlq, finance.subsidy.budgets


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


async def test_every_declared_topic_exists_with_its_partitions_and_size_limit() -> None:
    topics = declared_topics()
    admin = AIOKafkaAdminClient(**kafka_options(ADMIN))
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


def _free_port_base() -> int:
    """Four consecutive free ports on 127.0.0.1 (bounded search): three services, the console."""
    for base in random.sample(range(20_000, 30_000, 4), 50):
        with contextlib.ExitStack() as sockets:
            try:
                for port in range(base, base + 4):
                    sockets.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise AssertionError("no four free ports")


async def test_the_supervisor_restarts_a_service_that_exits_and_says_why(tmp_path: Path) -> None:
    namespace = await create_namespace()
    base = _free_port_base()
    env = {**os.environ, "NAMESPACE": namespace, "PENSION_SERVICES_DIR": str(tmp_path),
           "PENSION_SERVICES_PORT_BASE": str(base), "SCHEDULE_ENABLED": "false"}

    def services(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(REPO / "deploy" / "services.sh"), *args], env=env,
                              capture_output=True, text=True, timeout=150, check=False)

    try:
        started = services("up")
        assert started.returncode == 0, started.stdout + started.stderr
        child = int(subprocess.run(["pgrep", "-P", (tmp_path / "collection.pid").read_text()
                                    .strip()], capture_output=True, text=True, check=True)
                    .stdout.split()[0])
        os.kill(child, signal.SIGKILL)

        async def restarted() -> bool:
            ready = await http_get(f"http://127.0.0.1:{base}", "/readyz")
            return ready is not None and json.loads(ready[1])["details"].get("restarts") == 1

        await wait_for(restarted, timeout_s=90, what="the restarted service answering")
        ready = await http_get(f"http://127.0.0.1:{base}", "/readyz")
        assert ready is not None
        assert json.loads(ready[1])["details"]["last_exit_code"] == 137
        status = services("status")
        assert "collection: ready" in status.stdout
        assert "restarts=1 last_exit=137" in status.stdout
        assert '"why": "killed by signal 9"' in (tmp_path / "collection.log").read_text()
        # One service by name: the others keep running.
        assert services("down", "collection").returncode == 0
        status = services("status")
        assert "collection: down" in status.stdout
        assert "fund_transfer: ready" in status.stdout
        assert services("up", "collection").returncode == 0
        assert "collection: ready" in services("status").stdout
        assert services("up", "billing").returncode == 2
    finally:
        stopped = services("down")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not subprocess.run(["pgrep", "-f", f"services.sh supervise .* {base}"],
                              capture_output=True, check=False).stdout


def test_secrets_are_files_only_their_owner_reads_and_client_config_prints_them() -> None:
    secrets = Path(os.environ.get("PENSION_STATE_DIR") or REPO / ".state") / "secrets"
    files = sorted(secrets.rglob("*.password"))
    assert {f.stem for f in files if f.parent.name == "kafka"} == {ADMIN, *PRINCIPALS}
    for path in [secrets, *(f.parent for f in files)]:
        assert path.stat().st_mode & 0o777 == 0o700, path
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600, path
    config = client_config("fund_transfer")
    assert config["KAFKA_SASL_USERNAME"] == "fund_transfer"
    assert config["KAFKA_SASL_PASSWORD"] == (secrets / "kafka" / "fund_transfer.password"
                                             ).read_text()
    assert config["DATABASE_URL"].startswith("postgresql://pension_fund_transfer:")
    assert "DATABASE_URL" not in client_config(OPERATOR)
    unknown = subprocess.run(["bash", str(STACK), "client-config", "nobody"], capture_output=True,
                             text=True, timeout=60, check=False)
    assert unknown.returncode == 1
    assert "no principal 'nobody'" in unknown.stderr
