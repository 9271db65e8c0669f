"""docker-compose.yml and the Dockerfile describe the same stack as the local runner.

No Docker engine runs on the build machines, so the files are checked by reading them.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("collection", "fund_transfer", "occupational_annuity")


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_compose_runs_kafka_postgres_and_every_service() -> None:
    services = compose()["services"]
    assert {"kafka", "kafka-setup", "postgres", *SERVICES} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.1")
    assert services["postgres"]["image"].startswith("postgres:")


def test_every_long_running_container_is_restarted_when_it_exits() -> None:
    services = compose()["services"]
    for name in ("kafka", "postgres", *SERVICES):
        assert services[name]["restart"] == "unless-stopped", name


def test_every_long_running_container_has_a_health_check() -> None:
    services = compose()["services"]
    for name in ("kafka", "postgres", *SERVICES):
        assert "healthcheck" in services[name], name
    for name in SERVICES:
        assert "/readyz" in " ".join(services[name]["healthcheck"]["test"])


def test_each_service_container_runs_an_importable_module() -> None:
    services = compose()["services"]
    for name in SERVICES:
        command = services[name]["command"]
        assert command[:2] == ["python", "-m"]
        assert command[2] == f"services.{name}"
        assert importlib.util.find_spec(f"services.{name}.__main__") is not None


def test_topics_users_and_acls_come_from_the_same_scripts_as_the_local_stack() -> None:
    setup = compose()["services"]["kafka-setup"]["command"][0]
    assert "python deploy/topics.py ensure --file deploy/topics.txt" in setup
    assert "python deploy/access.py apply --secrets" in setup
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "COPY deploy/topics.py deploy/access.py deploy/topics.txt ./deploy/" in dockerfile
    broker = (REPO / "deploy" / "kafka" / "broker-common.sh").read_text()
    compose_broker = (REPO / "deploy" / "compose" / "kafka.sh").read_text()
    assert "source /deploy/broker-common.sh" in compose_broker
    for line in ("auto.create.topics.enable=false", "allow.everyone.if.no.acl.found=false",
                 "super.users=User:admin", "sasl.enabled.mechanisms=SCRAM-SHA-512",
                 "message.max.bytes=4259840"):
        assert line in broker


def test_each_service_runs_as_its_own_principal_and_role_after_its_migration() -> None:
    services = compose()["services"]
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["KAFKA_SASL_USERNAME"] == name
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["DATABASE_URL"].startswith(f"postgresql://pension_{name}:")
        migration = services[name]["depends_on"][f"{name}-migrate"]
        assert migration["condition"] == "service_completed_successfully"
        assert services[f"{name}-migrate"]["command"][-1] == "migrate"
        assert services[f"{name}-migrate"]["environment"]["DATABASE_URL"].startswith(
            "postgresql://pension:")


def test_no_password_has_a_default() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    passwords = re.findall(r"\$\{([A-Z_]*PASSWORD[A-Z_]*)(:.)?", text)
    assert len(passwords) > 10
    assert all(operator == ":?" for _, operator in passwords), passwords


def test_the_image_installs_time_zone_data_and_does_not_run_as_root() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "tzdata" in dockerfile
    assert "\nUSER pension" in dockerfile
