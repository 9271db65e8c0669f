"""Who may do what: the Kafka principals with their ACLs, and each service's database role.

This table is the security model (README, "Security model"); `deploy/access.py` applies it to the
local broker for `deploy/stack.sh`, and the tests apply the same table to their namespaces, so
the tests run against exactly these rights. What the services read and write is their flows in
shared/contracts/topology.py (which their specs and outboxes follow); the partners' and the
operator's rights are listed here. A principal gets nothing that is not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from shared.contracts import annuity, collection, tax, topology, transfer
from shared.contracts.registry import TOPIC_OPS_COMMANDS

ADMIN: Final = "admin"
"""The broker's own super user (inter-broker traffic) and local tooling: topics, users, ACLs."""
OPERATOR: Final = "operator"
TAX_BUREAU: Final = "tax-bureau"
FINANCE: Final = "finance"
HR: Final = "hr"

DATABASE_OWNER: Final = "pension"
"""Owns the database and every schema; runs migrations. No service runs as it."""

SERVICES: Final = topology.SERVICES
CONSOLE: Final = "console"
"""The operators' console (services/console): a read model of what the services publish."""
CONSOLE_READS: Final = (collection.TOPIC_DECLARATIONS, transfer.TOPIC_OBLIGATIONS,
                        transfer.TOPIC_NOTICES, annuity.TOPIC_LEDGER, tax.TOPIC_DECLARATIONS,
                        tax.TOPIC_PAYMENTS)
"""The outbound topics, and the tax bureau's declarations and payments: the trace shows them, and
a rejected declaration is placed by the declaration it rejects (as `pension-ops report` does)."""
CONSOLE_DEAD_LETTERS: Final = f"{CONSOLE}.dlq"
RUNS_WITH_A_ROLE: Final = (*SERVICES, CONSOLE)
"""Who runs as a Kafka principal and a database role of its own."""
PRINCIPALS: Final = (TAX_BUREAU, FINANCE, HR, *RUNS_WITH_A_ROLE, OPERATOR)
"""Every SCRAM user besides ADMIN; each has a password of its own and the ACLs below."""

ResourceType = Literal["TOPIC", "GROUP"]
PatternType = Literal["LITERAL", "PREFIXED"]
Operation = Literal["READ", "WRITE", "DESCRIBE"]


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    """ALLOW `operation` on a resource to `User:<principal>` from any host.

    READ and WRITE imply DESCRIBE; WRITE on any topic implies idempotent producing (KIP-679).
    """

    principal: str
    resource_type: ResourceType
    pattern: PatternType
    resource: str
    operation: Operation


def database_role(service: str) -> str:
    """The PostgreSQL login role a service (or the console) runs as (also for its namespaced
    test schemas)."""
    if service not in RUNS_WITH_A_ROLE:
        raise KeyError(f"no database role for {service!r}")
    return f"pension_{service}"


def reads_of(service: str) -> tuple[str, ...]:
    return SERVICES[service].consumed_topics


def writes_of(service: str) -> tuple[str, ...]:
    """What its outbox publishes (its scheduled commands and rejections on `ops.commands`
    included) and its own dead-letter topic."""
    flows = SERVICES[service]
    return (*(flow.topic for flow in flows.publishes), flows.dead_letter_topic)


def inbound_topics() -> tuple[str, ...]:
    """Every topic some service consumes: where a dead letter may be replayed to."""
    return tuple(sorted({t for service in SERVICES for t in reads_of(service)}))


def acls(namespace: str = "") -> list[Acl]:
    """The whole ACL set; with a namespace, the same rights on `<ns>.<topic>` and `<group>_<ns>`
    (how the tests isolate a run, shared/settings.py `Settings.namespace`)."""

    def topic(name: str) -> str:
        return f"{namespace}.{name}" if namespace else name

    def group(name: str) -> str:
        return f"{name}_{namespace}" if namespace else name

    def on_topic(principal: str, operation: Operation, name: str,
                 pattern: PatternType = "LITERAL") -> Acl:
        return Acl(principal, "TOPIC", pattern, topic(name), operation)

    def on_group(principal: str, operation: Operation, name: str) -> Acl:
        return Acl(principal, "GROUP", "PREFIXED", group(name), operation)

    rules = [
        on_topic(TAX_BUREAU, "WRITE", "tax.contribution.", "PREFIXED"),
        on_topic(FINANCE, "WRITE", "finance.", "PREFIXED"),
        on_topic(FINANCE, "READ", transfer.TOPIC_NOTICES),
        on_topic(FINANCE, "READ", transfer.TOPIC_OBLIGATIONS),
        on_group(FINANCE, "READ", FINANCE),
        on_topic(HR, "WRITE", topology.TOPIC_HR_EVENTS),
        # The operator reads everything (reports, traces, dead letters) without a group,
        # publishes commands, replays dead letters into the topics services consume, and
        # describes the services' groups to show their lag.
        (Acl(OPERATOR, "TOPIC", "PREFIXED", f"{namespace}.", "READ") if namespace
         else Acl(OPERATOR, "TOPIC", "LITERAL", "*", "READ")),
        *(on_topic(OPERATOR, "WRITE", name) for name in inbound_topics()),
    ]
    for service in SERVICES:
        rules += [on_topic(service, "READ", name) for name in reads_of(service)]
        rules += [on_topic(service, "WRITE", name) for name in writes_of(service)]
        rules += [on_group(service, "READ", service), on_group(OPERATOR, "DESCRIBE", service)]
    return sorted({*rules, *_console_acls(on_topic, on_group)})


def _console_acls(on_topic: Any, on_group: Any) -> list[Acl]:
    """Reads what it shows and every service's dead letters, writes only its own; its groups
    (`console`, and `console_dlq` for the dead-letter copier) by prefix. To show lag it
    describes the services' groups and the topics they read; the operator describes its group."""
    return [
        *(on_topic(CONSOLE, "READ", name) for name in CONSOLE_READS),
        *(on_topic(CONSOLE, "READ", flows.dead_letter_topic) for flows in SERVICES.values()),
        on_topic(CONSOLE, "WRITE", CONSOLE_DEAD_LETTERS),
        on_group(CONSOLE, "READ", CONSOLE),
        *(on_group(CONSOLE, "DESCRIBE", service) for service in SERVICES),
        *(on_topic(CONSOLE, "DESCRIBE", name) for name in inbound_topics()
          if name not in CONSOLE_READS),
        on_group(OPERATOR, "DESCRIBE", CONSOLE),
    ]


def writer_of(topic: str) -> str:
    """Who publishes `topic` (a bare name) in production: the partner of an inbound topic, the
    operator for `ops.commands`, the service whose code publishes it; else the operator."""
    if topic == TOPIC_OPS_COMMANDS:
        return OPERATOR
    for rule in acls():
        if rule.resource_type != "TOPIC" or rule.operation != "WRITE" or rule.principal == OPERATOR:
            continue
        prefixed = rule.pattern == "PREFIXED" and topic.startswith(rule.resource)
        if topic == rule.resource or prefixed:
            return rule.principal
    return OPERATOR
