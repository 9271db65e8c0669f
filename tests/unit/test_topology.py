"""The flows of shared/contracts/topology.py agree with the registry, the services and the stack."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from shared.contracts import topology
from shared.contracts.registry import ENTITY_FIELDS, TOPIC_OPS_COMMANDS

REPO = Path(__file__).resolve().parents[2]


def deployed_topics() -> set[str]:
    lines = (REPO / "deploy" / "topics.txt").read_text(encoding="utf-8").splitlines()
    return {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}


def test_every_type_of_the_registry_travels_on_exactly_one_topic() -> None:
    for event_type in ENTITY_FIELDS:
        assert topology.topic_of(event_type) in {t.name for t in topology.TOPICS}


def test_the_flows_name_only_registered_types_on_listed_topics() -> None:
    names = {t.name for t in topology.TOPICS}
    for service in topology.SERVICES.values():
        for flow in (*service.consumes, *service.publishes):
            assert flow.topic in names, (service.name, flow.topic)
            assert set(flow.event_types) <= set(ENTITY_FIELDS), (service.name, flow.topic)
            assert set(flow.event_types) <= set(topology.types_on(flow.topic))


def test_a_service_consumes_only_types_someone_publishes_on_that_topic() -> None:
    for service in topology.SERVICES.values():
        for flow in service.consumes:
            assert set(flow.event_types) <= set(topology.types_on(flow.topic)), service.name


def test_the_stack_creates_every_topic_of_the_flows_and_nothing_else() -> None:
    dead_letters = {s.dead_letter_topic for s in topology.SERVICES.values()}
    # The console reads the flows' topics and publishes only its own dead letters.
    assert deployed_topics() == {t.name for t in topology.TOPICS} | dead_letters | {"console.dlq"}


@pytest.mark.parametrize("service", topology.SERVICE_NAMES)
def test_each_service_subscribes_to_its_flows(service: str) -> None:
    spec = importlib.import_module(f"services.{service}.app").spec()
    flows = topology.SERVICES[service]
    assert spec.name == service
    assert set(spec.topics) == set(flows.consumed_topics)
    assert spec.handled_types == flows.handled_types
    commands = next(f for f in flows.publishes if f.topic == TOPIC_OPS_COMMANDS)
    assert set(spec.scheduled_command_types) <= set(commands.event_types)


def test_the_dead_letter_reasons_are_the_codes_the_reader_raises() -> None:
    source = (REPO / "shared" / "contracts" / "wire.py").read_text(encoding="utf-8")
    raised = set(re.findall(r'DeadLetter\(\s*"([A-Z_]+)"', source))
    assert raised == set(topology.DEAD_LETTER_REASONS)


def test_keys_overridden_by_type_are_types_of_the_registry() -> None:
    assert set(topology.KEY_BY_TYPE) <= set(ENTITY_FIELDS)
    assert topology.key_of("collection.declaration.rejected.v1",
                           "collection.declarations") is topology.ECHOED_KEY
    assert topology.key_of("collection.declaration.registered.v1",
                           "collection.declarations") is topology.USCC_KEY
