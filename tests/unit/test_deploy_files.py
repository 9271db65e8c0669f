"""docker-compose.yml and the Dockerfile describe the same stack as the local runner.

No Docker engine runs on the build machines, so the files are checked by reading them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("collection", "fund_transfer", "occupational_annuity")


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_compose_runs_kafka_postgres_and_every_service() -> None:
    services = compose()["services"]
    assert {"kafka", "kafka-topics", "postgres", *SERVICES} <= set(services)
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


def test_topics_are_created_from_the_same_list_as_the_local_stack() -> None:
    topics_job = compose()["services"]["kafka-topics"]
    assert "./deploy/topics.txt:/topics.txt:ro" in topics_job["volumes"]
    assert 'max.message.bytes="$$size"' in topics_job["command"][0]
    assert "size=4259840" in topics_job["command"][0]  # the default when a line names none
    names = [line.split()[0] for line in (REPO / "deploy" / "topics.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert "tax.contribution.declarations" in names
    assert {f"{s}.dlq" for s in SERVICES} <= set(names)


def test_no_password_has_a_default() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert "${POSTGRES_PASSWORD:?" in text
    assert "auto.create.topics.enable" not in text or "false" in text
    assert "KAFKA_AUTO_CREATE_TOPICS_ENABLE: \"false\"" in text


def test_the_image_installs_time_zone_data_and_does_not_run_as_root() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "tzdata" in dockerfile
    assert "\nUSER pension" in dockerfile
