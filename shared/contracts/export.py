"""Export the contracts for partners: one JSON Schema per event type, AsyncAPI 3.0 documents.

`python -m shared.contracts.export` rewrites `docs/schemas/` and `docs/asyncapi/`;
tests/unit/test_exported_docs.py fails when the committed files differ from a fresh export.

The AsyncAPI documents are built from the project's own data, not from the FastStream apps:
the flows of shared/contracts/topology.py (which service consumes and publishes which types on
which topic, and each topic's key), the pydantic models of each type's `data`, and the partition
counts of deploy/topics.txt. FastStream sees one batch subscriber taking raw records, so what it
could describe was a list of topic names.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from pydantic.json_schema import models_json_schema

from shared.contracts import topology
from shared.contracts.fields import Contract
from shared.contracts.topology import Flow, Key, ServiceFlows
from shared.contracts.wire import CONTENT_TYPE, RECORD_BYTES_MAX

CONTRACT_MODULES = ("fields", "tax", "collection", "finance", "transfer", "hr", "annuity",
                    "ops", "assessment")
REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO / "docs" / "schemas"
ASYNCAPI_DIR = REPO / "docs" / "asyncapi"
TOPICS_FILE = REPO / "deploy" / "topics.txt"

ASYNCAPI_VERSION: Final = "3.0.0"
# The version of the interface the documents describe: every event type is still its v1.
API_VERSION: Final = "1.0.0"
KAFKA_BINDING: Final = "0.5.0"
SYSTEM_DOCUMENT: Final = "pension-streams"
LOCAL_BOOTSTRAP: Final = "127.0.0.1:39092"  # deploy/stack.sh's KAFKA_PORT default
SCHEMAS: Final = "#/components/schemas/"
DEAD_LETTER: Final = "dead_letter"
SCRAM: Final = {"$ref": "#/components/securitySchemes/scramSha512"}
CORRELATION: Final = {"$ref": "#/components/correlationIds/correlationid"}


def event_models() -> dict[str, type[Contract]]:
    """Every module's EVENT_MODELS: event type -> model of its `data`."""
    models: dict[str, type[Contract]] = {}
    for name in CONTRACT_MODULES:
        module = importlib.import_module(f"shared.contracts.{name}")
        for event_type, model in getattr(module, "EVENT_MODELS", {}).items():
            if event_type in models:
                raise ValueError(f"{event_type} defined twice")
            models[event_type] = model
    return dict(sorted(models.items()))


def _docstring(model: type[Contract]) -> str:
    return inspect.cleandoc(model.__doc__ or "")


def render_schemas() -> dict[str, str]:
    rendered: dict[str, str] = {}
    for event_type, model in event_models().items():
        schema: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:pension-streams:event:{event_type}",
            "title": event_type,
            "description": _docstring(model),
            **model.model_json_schema(mode="validation"),
        }
        schema["title"] = event_type
        rendered[f"{event_type}.json"] = _dump(schema)
    return rendered


# ---- AsyncAPI ------------------------------------------------------------------------------------


def render_asyncapi() -> dict[str, str]:
    """One document per service, and one for the whole system (every service's operations)."""
    deployed = _deployed_topics()
    rendered = {
        f"{name}.json": _dump(_document(name, [flows], deployed))
        for name, flows in topology.SERVICES.items()
    }
    rendered[f"{SYSTEM_DOCUMENT}.json"] = _dump(
        _document(SYSTEM_DOCUMENT, list(topology.SERVICES.values()), deployed))
    return rendered


def _document(name: str, services: list[ServiceFlows], deployed: dict[str, Any]
              ) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for service in services:
        operations.update(_operations(service))
    channel_names = _used_channels(services)
    channels = {topic: _channel(topic, deployed[topic]) for topic in channel_names}
    messages = {message["$ref"].rsplit("/", 1)[1] for channel in channels.values()
                for message in channel["messages"].values()}
    all_messages = _messages()
    used_messages = {m: all_messages[m] for m in sorted(messages)}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": f"urn:pension-streams:{name}",
        "info": _info(name, services),
        "defaultContentType": CONTENT_TYPE,
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": _schemas_used_by(used_messages),
            "messages": used_messages,
            "securitySchemes": {"scramSha512": {
                "type": "scramSha512",
                "description": "SASL/SCRAM-SHA-512 with the user name and password issued to "
                "the client: `security.protocol` SASL_SSL (production) or SASL_PLAINTEXT "
                "(the local stack), `sasl.mechanism` SCRAM-SHA-512.",
            }},
            "correlationIds": {"correlationid": {
                "description": "The CloudEvents extension attribute `correlationid`. When an "
                "inbound event carries it, every event caused by it carries the same value; when "
                "it does not, the caused events carry the causing event's `id`. An event with "
                "two causes carries the correlation of the later one.",
                "location": "$message.payload#/correlationid",
            }},
        },
    }


def _info(name: str, services: list[ServiceFlows]) -> dict[str, Any]:
    if name == SYSTEM_DOCUMENT:
        title = "pension-streams"
        summary = ("Event-driven services that move pension money for the Inner Mongolia "
                   "Autonomous Region: every topic and every operation of "
                   + ", ".join(s.name for s in services) + ".")
    else:
        title = f"pension-streams {name}"
        summary = services[0].summary
    return {
        "title": title,
        "version": API_VERSION,
        "description": summary + "\n\n" + _WIRE_RULES,
    }


_WIRE_RULES: Final = (
    "Every record's value is one CloudEvents 1.0 event in structured mode (UTF-8 JSON, header "
    "`content-type: application/cloudevents+json`); `(source, id)` identifies an event, and a "
    "redelivery has no second effect. Inside `data`, unknown fields are rejected. Money is a "
    "JSON string in yuan with exactly two decimals (`\"6523.00\"`), never a number; periods "
    "are `YYYY-MM`, dates `YYYY-MM-DD`. `NaN`, `Infinity`, duplicate keys, non-UTF-8 bytes, "
    "nesting deeper than 32 levels and integers of more than 18 digits make a record "
    f"unreadable. Topics accept records up to {RECORD_BYTES_MAX} bytes (4 MiB).\n\n"
    "A readable event that breaks a rule is answered with a `...rejected` event naming every "
    "reason. An unreadable record (not JSON, not a CloudEvent, unknown type, no entity id, "
    "empty, too large) goes to the consuming service's dead-letter topic `<service>.dlq` "
    "with its original key, value and headers plus `x-dlq-*` headers, and the service moves "
    "on. The JSON Schema of each type's `data` is also published on its own, in "
    "`docs/schemas/<type>.json`."
)


def _servers() -> dict[str, Any]:
    return {
        "production": {
            "host": "{bootstrap}",
            "protocol": "kafka-secure",
            "description": "The region's Kafka cluster: TLS (SASL_SSL) with SCRAM-SHA-512 "
            "authentication.",
            "variables": {"bootstrap": {
                "description": "The cluster's bootstrap servers (host:port), handed to each "
                "partner with its credentials.",
            }},
            "security": [SCRAM],
        },
        "local": {
            "host": LOCAL_BOOTSTRAP,
            "protocol": "kafka",
            "description": "The single broker of `make up` (deploy/stack.sh; `KAFKA_PORT` "
            "moves it), on loopback only: SASL_PLAINTEXT with SCRAM-SHA-512.",
            "security": [SCRAM],
        },
    }


def _used_channels(services: list[ServiceFlows]) -> list[str]:
    """Topics in the order of topology.TOPICS, then the dead-letter topics."""
    used = {flow.topic for s in services for flow in (*s.consumes, *s.publishes)}
    names = [t.name for t in topology.TOPICS if t.name in used]
    return names + [s.dead_letter_topic for s in services]


def _channel(name: str, deployed: Any) -> dict[str, Any]:
    bindings = {"kafka": {
        "topic": name,
        "partitions": deployed.partitions,
        "topicConfiguration": {"max.message.bytes": int(deployed.max_message_bytes)},
        "bindingVersion": KAFKA_BINDING,
    }}
    dead_letters_of = next((s for s in topology.SERVICES.values()
                            if s.dead_letter_topic == name), None)
    if dead_letters_of is not None:
        return {
            "address": name,
            "title": name,
            "summary": f"Records {dead_letters_of.name} could not read, with the reason.",
            "description": "Written by " + dead_letters_of.name + " only; operators browse and "
            "replay them with `pension-ops dlq`. Each record keeps the original key, value "
            "and headers; it is published gzip-compressed, so a value that arrived compressed "
            "under the source topic's limit fits whole.",
            "messages": {DEAD_LETTER: {"$ref": f"#/components/messages/{DEAD_LETTER}"}},
            "bindings": bindings,
        }
    topic = topology.topic(name)
    return {
        "address": name,
        "title": name,
        "summary": topic.summary,
        "description": _channel_description(name),
        "messages": {t: {"$ref": f"#/components/messages/{t}"} for t in topology.types_on(name)},
        "bindings": bindings,
    }


def _channel_description(name: str) -> str:
    topic = topology.topic(name)
    publishers = [s.name for s in topology.SERVICES.values()
                  if any(f.topic == name for f in s.publishes)]
    consumers = [s.name for s in topology.SERVICES.values() if name in s.consumed_topics]
    producers = [topic.partner_producers] if topic.partner_producers else []
    lines = [
        f"Key: {topic.key.description}; all events about one key stay in order on one "
        "partition.",
        "Published by " + _and([*producers, *publishers]) + ".",
        ("Consumed by " + _and(consumers) + "." if consumers
         else "No service of this system consumes it."),
    ]
    return " ".join(lines)


def _and(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _operations(service: ServiceFlows) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for flow in service.consumes:
        skipped = [t for t in topology.types_on(flow.topic) if t not in flow.event_types]
        note = (" Other types on the topic (" + ", ".join(skipped) + ") are skipped."
                if skipped else "")
        operations[f"{service.name}.receive.{flow.topic}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{flow.topic}"},
            "title": f"{service.name} consumes {flow.topic}",
            "description": f"Consumer group `{service.name}`, in batches; offsets are "
            "committed only after the batch's database transaction." + note,
            "messages": [_channel_message(flow.topic, t) for t in flow.event_types],
            "bindings": {"kafka": {
                "groupId": {"type": "string", "enum": [service.name]},
                "clientId": {"type": "string", "enum": [service.name]},
                "bindingVersion": KAFKA_BINDING,
            }},
        }
    dead_letters = Flow(service.dead_letter_topic, (DEAD_LETTER,))
    for flow in (*service.publishes, dead_letters):
        topic, types = flow.topic, flow.event_types
        operations[f"{service.name}.send.{topic}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
            "title": f"{service.name} publishes on {topic}",
            "description": "From its transactional outbox, by an idempotent producer "
            "(acks=all), once the transaction that made the record commits: a crash can "
            "publish a record twice, never lose it (an event keeps its `source` and `id`).",
            "messages": [_channel_message(topic, t) for t in types],
            "bindings": {"kafka": {
                "clientId": {"type": "string", "enum": [f"{service.name}-relay"]},
                "bindingVersion": KAFKA_BINDING,
            }},
        }
    return operations


def _channel_message(topic: str, message: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{topic}/messages/{message}"}


def _messages() -> dict[str, Any]:
    messages: dict[str, Any] = {
        t: _event_message(t, model) for t, model in event_models().items()
    }
    messages[DEAD_LETTER] = _dead_letter_message()
    return messages


def _publishing_services(event_type: str) -> list[str]:
    return [s.name for s in topology.SERVICES.values()
            if any(event_type in f.event_types for f in s.publishes)]


def _event_message(event_type: str, model: type[Contract]) -> dict[str, Any]:
    topic = topology.topic_of(event_type)
    summary = _docstring(model).split("\n\n", 1)[0].replace("\n", " ")
    summary = _sentence(summary.split("`: ", 1)[1]) if "`: " in summary else ""
    message: dict[str, Any] = {
        "name": event_type,
        "title": event_type,
        "summary": summary,
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": SCHEMAS + "cloudevents.headers"},
        "payload": _envelope(event_type),
        "correlationId": CORRELATION,
        "bindings": {"kafka": {
            "key": _key_schema(topology.key_of(event_type, topic)),
            "bindingVersion": KAFKA_BINDING,
        }},
    }
    if not summary:
        del message["summary"]
    return message


def _envelope(event_type: str) -> dict[str, Any]:
    """CloudEvents structured mode; what this system publishes always names subject and
    correlation, and its `source` is the publishing service."""
    publishers = _publishing_services(event_type)
    from_partners = event_type in {t for topic in topology.TOPICS for t in topic.partner_types}
    required = ["specversion", "id", "source", "type", "time", "datacontenttype", "data"]
    source: dict[str, Any] = {"$ref": SCHEMAS + "cloudevents.source"}
    if not from_partners:
        required[4:4] = ["subject", "correlationid"]
        source = {"type": "string", "enum": [f"/{name}" for name in publishers]}
    return {
        "type": "object",
        "title": f"{event_type} (CloudEvent)",
        "required": required,
        "properties": {
            "specversion": {"type": "string", "const": "1.0"},
            "id": {"$ref": SCHEMAS + "cloudevents.id"},
            "source": source,
            "type": {"type": "string", "const": event_type},
            "time": {"$ref": SCHEMAS + "cloudevents.time"},
            "datacontenttype": {"type": "string", "const": "application/json"},
            "subject": {"$ref": SCHEMAS + "cloudevents.subject"},
            "correlationid": {"$ref": SCHEMAS + "cloudevents.correlationid"},
            "traceparent": {"$ref": SCHEMAS + "cloudevents.traceparent"},
            "data": {"$ref": SCHEMAS + event_type},
        },
        # Other CloudEvents extension attributes are allowed and ignored (CONTRACTS.md).
        "additionalProperties": True,
    }


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _key_schema(key: Key) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": _sentence(key.description)}
    if key.pattern:
        schema["pattern"] = key.pattern
    if key.enum:
        schema["enum"] = list(key.enum)
    return schema


def _dead_letter_message() -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "name": DEAD_LETTER,
        "title": "Dead letter",
        "summary": "An unreadable record, byte for byte, and why it could not be read.",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "description": "The original record's headers, plus these.",
            "required": ["x-dlq-reason", "x-dlq-detail", "x-original-topic",
                         "x-original-partition", "x-original-offset", "x-consumer-group",
                         "x-failed-at"],
            "properties": {
                "x-dlq-reason": {"type": "string", "enum": list(topology.DEAD_LETTER_REASONS)},
                "x-dlq-detail": {**text, "description": "Which check refused the record, or "
                                 "which exception reading it raised."},
                "x-original-topic": text,
                "x-original-partition": {"type": "string", "pattern": "^[0-9]+$"},
                "x-original-offset": {"type": "string", "pattern": "^[0-9]+$"},
                "x-consumer-group": {**text, "description": "The consuming service's group."},
                "x-failed-at": {**text, "format": "date-time",
                                "description": "When it was dead-lettered (RFC 3339)."},
            },
            "additionalProperties": text,
        },
        "payload": {
            "description": "The original value, unchanged: possibly not JSON, empty, or larger "
            "than the source topic's limit once decompressed.",
        },
        "bindings": {"kafka": {
            "key": {"type": "string", "description":
                    "The original record's key, unchanged (absent when it had none)."},
            "bindingVersion": KAFKA_BINDING,
        }},
    }


_ATTRIBUTE: Final = {"type": "string", "pattern": "^[!-~]{1,256}$"}

_ENVELOPE_SCHEMAS: Final[dict[str, Any]] = {
    "cloudevents.headers": {
        "type": "object",
        "required": ["content-type"],
        "properties": {"content-type": {"type": "string", "const": CONTENT_TYPE}},
    },
    "cloudevents.id": {**_ATTRIBUTE, "description":
                       "Unique per `source`; a redelivery of the same pair has no second effect."},
    "cloudevents.source": {**_ATTRIBUTE, "description":
                           "URI-reference of the producer, e.g. `/tax/150000`, `/collection`."},
    "cloudevents.subject": {**_ATTRIBUTE, "description": "The entity key: the record's key."},
    "cloudevents.correlationid": {**_ATTRIBUTE, "description":
                                  "Carried from cause to effect; see the correlation id."},
    "cloudevents.traceparent": {**_ATTRIBUTE, "description": "W3C trace context."},
    "cloudevents.time": {"type": "string", "format": "date-time", "description":
                         "RFC 3339 with an offset: when the producer published the event."},
}


def _data_schemas() -> dict[str, Any]:
    """Each type's `data` schema, keyed by the type; the models' nested schemas by their name.

    Generated together, so pydantic gives two different models of one name distinct names.
    """
    models = event_models()
    refs, top = models_json_schema([(model, "validation") for model in models.values()],
                                   ref_template=SCHEMAS + "{model}")
    defs: dict[str, Any] = top["$defs"]
    renamed = {refs[(model, "validation")]["$ref"].removeprefix(SCHEMAS): event_type
               for event_type, model in models.items()}
    schemas: dict[str, Any] = {}
    for name, schema in defs.items():
        event_type = renamed.get(name)
        if event_type is None:
            schemas[name] = _rename_refs(schema, renamed)
        else:
            schemas[event_type] = {**_rename_refs(schema, renamed), "title": event_type,
                                   "description": _docstring(models[event_type])}
    return schemas


def _rename_refs(node: Any, renamed: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: (SCHEMAS + renamed.get(value.removeprefix(SCHEMAS),
                                            value.removeprefix(SCHEMAS))
                      if key == "$ref" else _rename_refs(value, renamed))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_rename_refs(item, renamed) for item in node]
    return node


def _schemas_used_by(messages: dict[str, Any]) -> dict[str, Any]:
    """Only the schemas the messages reach, so each document stands alone and stays small."""
    available = {**_ENVELOPE_SCHEMAS, **_data_schemas()}
    used: set[str] = set()
    pending = list(_refs(messages))
    while pending:
        name = pending.pop()
        if name in used:
            continue
        used.add(name)
        pending.extend(_refs(available[name]))
    return {name: available[name] for name in sorted(used)}


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(SCHEMAS):
                yield value.removeprefix(SCHEMAS)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@functools.cache
def _deploy_topics() -> Any:
    """deploy/topics.py, which reads topics.txt for the stack: one parser of that file."""
    spec = importlib.util.spec_from_file_location("deploy_topics", REPO / "deploy" / "topics.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def _deployed_topics() -> dict[str, Any]:
    """Each topic's partitions and max.message.bytes, as the stack creates them."""
    topics: dict[str, Any] = _deploy_topics().read_topics(TOPICS_FILE)
    return topics


# ---- files ---------------------------------------------------------------------------------------


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in {p.name for p in directory.glob("*.json")} - set(files):
        (directory / stale).unlink()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def main() -> int:
    write(SCHEMA_DIR, render_schemas())
    write(ASYNCAPI_DIR, render_asyncapi())
    sys.stdout.write(f"wrote {SCHEMA_DIR} and {ASYNCAPI_DIR}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
