"""The JSON Schemas and AsyncAPI documents in docs/ are fresh and cover every event type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.contracts import topology
from shared.contracts.export import (
    ASYNCAPI_DIR,
    DEAD_LETTER,
    SCHEMA_DIR,
    SYSTEM_DOCUMENT,
    event_models,
    render_asyncapi,
    render_schemas,
)
from shared.contracts.registry import ENTITY_FIELDS

REGENERATE = "run `make docs` (python -m shared.contracts.export) and commit the result"
SERVICES = tuple(topology.SERVICES)


def committed(name: str) -> dict[str, Any]:
    """A document as a partner gets it: the committed file, not a fresh render."""
    document: dict[str, Any] = json.loads((ASYNCAPI_DIR / f"{name}.json").read_text("utf-8"))
    return document


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operation_types(document: dict[str, Any], service: str, action: str) -> set[str]:
    return {
        resolve(document, message["$ref"])["$ref"].rsplit("/", 1)[1]
        for op_id, operation in document["operations"].items()
        if op_id.startswith(f"{service}.") and operation["action"] == action
        for message in operation["messages"]
    } - {DEAD_LETTER}


@pytest.mark.parametrize(
    ("directory", "render"), [(SCHEMA_DIR, render_schemas), (ASYNCAPI_DIR, render_asyncapi)]
)
def test_committed_documents_are_not_stale(directory: Path, render: Any) -> None:
    fresh = render()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in directory.glob("*.json")}
    assert set(on_disk) == set(fresh), REGENERATE
    for name, text in fresh.items():
        assert on_disk[name] == text, f"{name} is stale: {REGENERATE}"


def test_every_event_type_of_the_contracts_has_a_model() -> None:
    assert set(event_models()) == set(ENTITY_FIELDS)


def test_every_model_names_its_entity_id_field() -> None:
    for event_type, model in event_models().items():
        assert ENTITY_FIELDS[event_type] in model.model_fields, event_type


def test_there_is_one_document_per_service_and_one_for_the_system() -> None:
    names = {p.stem for p in ASYNCAPI_DIR.glob("*.json")}
    assert names == {*SERVICES, SYSTEM_DOCUMENT}


def test_the_system_document_has_a_message_for_every_event_type_of_the_registry() -> None:
    document = committed(SYSTEM_DOCUMENT)
    assert set(document["components"]["messages"]) == {*ENTITY_FIELDS, DEAD_LETTER}
    in_channels = {name for channel in document["channels"].values()
                   for name in channel["messages"]}
    assert in_channels == {*ENTITY_FIELDS, DEAD_LETTER}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_document_receives_what_it_handles_and_sends_what_it_publishes(
        service: str) -> None:
    flows = topology.SERVICES[service]
    published = {t for flow in flows.publishes for t in flow.event_types}
    for name in (service, SYSTEM_DOCUMENT):
        document = committed(name)
        assert operation_types(document, service, "receive") == flows.handled_types, name
        assert operation_types(document, service, "send") == published, name


def test_every_type_of_the_registry_is_published_or_consumed_by_someone() -> None:
    """A type nobody publishes or consumes would be missing from every document."""
    document = committed(SYSTEM_DOCUMENT)
    covered = set()
    for service in SERVICES:
        covered |= operation_types(document, service, "receive")
        covered |= operation_types(document, service, "send")
    partner_types = {t for topic in topology.TOPICS for t in topic.partner_types}
    assert covered | partner_types == set(ENTITY_FIELDS)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_document_has_a_channel_for_every_topic_it_uses_and_its_dead_letters(
        service: str) -> None:
    flows = topology.SERVICES[service]
    document = committed(service)
    expected = {f.topic for f in (*flows.consumes, *flows.publishes)} | {f"{service}.dlq"}
    assert set(document["channels"]) == expected
    dead_letters = document["channels"][f"{service}.dlq"]
    message = resolve(document, dead_letters["messages"][DEAD_LETTER]["$ref"])
    headers = message["headers"]
    assert set(headers["required"]) == {"x-dlq-reason", "x-dlq-detail", "x-original-topic",
                                        "x-original-partition", "x-original-offset",
                                        "x-consumer-group", "x-failed-at"}
    assert headers["properties"]["x-dlq-reason"]["enum"] == list(topology.DEAD_LETTER_REASONS)
    sends = [op for op in document["operations"].values()
             if op["channel"]["$ref"] == f"#/channels/{service}.dlq"]
    assert [op["action"] for op in sends] == ["send"]


@pytest.mark.parametrize("event_type", sorted(ENTITY_FIELDS))
def test_each_message_is_a_cloudevent_with_its_data_schema_key_and_correlation(
        event_type: str) -> None:
    document = committed(SYSTEM_DOCUMENT)
    message = document["components"]["messages"][event_type]
    assert message["contentType"] == "application/cloudevents+json"
    payload = message["payload"]
    assert payload["properties"]["type"]["const"] == event_type
    assert payload["properties"]["specversion"]["const"] == "1.0"
    assert {"id", "source", "type", "time", "data"} <= set(payload["required"])
    data = resolve(document, payload["properties"]["data"]["$ref"])
    assert data["title"] == event_type
    assert ENTITY_FIELDS[event_type] in data["required"]
    assert set(data["properties"]) == set(event_models()[event_type].model_fields)
    correlation = resolve(document, message["correlationId"]["$ref"])
    assert correlation["location"] == "$message.payload#/correlationid"
    assert "correlationid" in payload["properties"]
    key = message["bindings"]["kafka"]["key"]
    assert key["type"] == "string"
    assert key["description"]


def test_the_data_schemas_match_the_exported_json_schemas() -> None:
    """Partners validating with docs/schemas/ and with the AsyncAPI documents agree."""
    document = committed(SYSTEM_DOCUMENT)
    for event_type in ENTITY_FIELDS:
        standalone = json.loads((SCHEMA_DIR / f"{event_type}.json").read_text("utf-8"))
        embedded = document["components"]["schemas"][event_type]
        assert embedded["properties"].keys() == standalone["properties"].keys(), event_type
        assert embedded["required"] == standalone["required"], event_type
        for field, schema in standalone["properties"].items():
            if "$ref" not in json.dumps(schema):
                assert embedded["properties"][field] == schema, (event_type, field)


def test_keys_follow_the_topics_of_the_contracts() -> None:
    document = committed(SYSTEM_DOCUMENT)
    messages = document["components"]["messages"]
    uscc = messages["tax.contribution.declared.v1"]["bindings"]["kafka"]["key"]
    assert "USCC" in uscc["description"]
    assert uscc["pattern"].startswith("^[0-9A-HJ-NPQRTUWXY]")
    commands = messages["ops.deadline_check.requested.v1"]["bindings"]["kafka"]["key"]
    assert commands["enum"] == ["all", *SERVICES]
    refused = messages["annuity.notional_interest.refused.v1"]["bindings"]["kafka"]["key"]
    assert refused["enum"] == ["150000"]


def test_every_server_names_the_scram_security_scheme() -> None:
    for name in (*SERVICES, SYSTEM_DOCUMENT):
        document = committed(name)
        schemes = document["components"]["securitySchemes"]
        assert schemes["scramSha512"]["type"] == "scramSha512"
        for server in document["servers"].values():
            assert server["security"] == [{"$ref": "#/components/securitySchemes/scramSha512"}]
