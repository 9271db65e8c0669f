"""The ACL table of shared/access.py matches what the code consumes and publishes, and no more.

The broker-side proof is tests/integration/test_kafka_access.py; this file keeps the table honest
against the services' specs and deploy/topics.txt without a broker.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.collection.app import spec as collection_spec
from services.console.app import spec as console_spec
from services.fund_transfer.app import spec as fund_transfer_spec
from services.occupational_annuity.app import spec as annuity_spec
from shared.access import (
    CONSOLE,
    FINANCE,
    OPERATOR,
    PRINCIPALS,
    SERVICES,
    TAX_BUREAU,
    Acl,
    acls,
    database_role,
    inbound_topics,
    writer_of,
)
from shared.db import mutable_tables
from shared.kafka_client import KafkaAccess, client_options
from tests.support import topic_names

REPO = Path(__file__).resolve().parents[2]


def test_each_service_reads_exactly_the_topics_it_subscribes_to() -> None:
    for spec in (collection_spec(), fund_transfer_spec(), annuity_spec()):
        reads = {a.resource for a in acls()
                 if a.principal == spec.name and a.resource_type == "TOPIC"
                 and a.operation == "READ"}
        assert reads == set(spec.topics), spec.name


def test_every_topic_named_by_an_acl_is_declared_in_topics_txt() -> None:
    declared = set(topic_names())
    for rule in acls():
        if rule.resource_type != "TOPIC" or rule.resource == "*":
            continue
        if rule.pattern == "LITERAL":
            assert rule.resource in declared, rule
        else:
            assert any(name.startswith(rule.resource) for name in declared), rule


def test_a_namespace_gets_the_same_rights_on_its_own_topics_and_groups() -> None:
    plain, spaced = acls(), acls("t0123456789ab")
    assert len(plain) == len(spaced)
    for rule in spaced:
        if rule.resource_type == "TOPIC":
            assert rule.resource.startswith("t0123456789ab."), rule
        else:
            assert rule.resource.endswith("_t0123456789ab"), rule


def test_only_the_operator_reads_everything_and_only_services_use_groups_of_their_name() -> None:
    wildcard = [a for a in acls() if a.resource == "*"]
    assert {(a.principal, a.operation) for a in wildcard} == {(OPERATOR, "READ")}
    for rule in acls():
        if rule.resource_type == "GROUP" and rule.operation == "READ":
            assert rule.resource == rule.principal, rule


def test_partners_write_only_their_inbound_topics() -> None:
    assert writer_of("tax.contribution.declarations") == TAX_BUREAU
    assert writer_of("finance.transfer.settlements") == FINANCE
    assert writer_of("ops.commands") == OPERATOR
    assert writer_of("collection.declarations") == "collection"
    assert writer_of("transfer.requests") == "occupational_annuity"
    writes = {(a.principal, a.resource) for a in acls() if a.operation == "WRITE"}
    assert (TAX_BUREAU, "finance.") not in writes
    assert not any(p == FINANCE and t.startswith(("ops.", "transfer.")) for p, t in writes)


def test_the_operator_may_replay_into_every_consumed_topic_and_nothing_published_only() -> None:
    writes = {a.resource for a in acls() if a.principal == OPERATOR and a.operation == "WRITE"}
    assert writes == set(inbound_topics())
    assert "annuity.ledger" not in writes
    assert "transfer.obligations" not in writes


def test_every_principal_has_a_password_file_name_and_services_a_database_role() -> None:
    assert len(set(PRINCIPALS)) == len(PRINCIPALS) == 8
    assert {database_role(s) for s in SERVICES} == {
        "pension_collection", "pension_fund_transfer", "pension_occupational_annuity"}
    assert database_role(CONSOLE) == "pension_console"
    with pytest.raises(KeyError):
        database_role("operator")


def test_the_console_reads_what_it_shows_and_writes_only_its_own_dead_letters() -> None:
    console = console_spec()
    rules = [a for a in acls() if a.principal == CONSOLE]
    reads = {a.resource for a in rules if a.resource_type == "TOPIC" and a.operation == "READ"}
    assert reads == set(console.topics) | {f"{s}.dlq" for s in SERVICES}
    assert {a.resource for a in rules if a.operation == "WRITE"} == {"console.dlq"}
    assert {(a.resource, a.pattern) for a in rules
            if a.resource_type == "GROUP" and a.operation == "READ"} == {("console", "PREFIXED")}
    described = {a.resource for a in rules if a.operation == "DESCRIBE"}
    assert set(SERVICES) <= described  # the services' groups, for their lag
    assert Acl(OPERATOR, "GROUP", "PREFIXED", "console", "DESCRIBE") in acls()


def test_a_client_without_a_principal_is_refused_before_it_connects() -> None:
    access = KafkaAccess.from_mapping({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        client_options(access)


def test_client_options_carry_the_principal_and_tls_only_with_sasl_ssl() -> None:
    plain = client_options(KafkaAccess.from_mapping({
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "KAFKA_SASL_USERNAME": "operator",
        "KAFKA_SASL_PASSWORD": "secret"}))
    assert plain["security_protocol"] == "SASL_PLAINTEXT"
    assert plain["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (plain["sasl_plain_username"], plain["ssl_context"]) == ("operator", None)
    tls = client_options(KafkaAccess.from_mapping({
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "KAFKA_SASL_USERNAME": "operator",
        "KAFKA_SASL_PASSWORD": "secret", "KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}))
    assert tls["security_protocol"] == "SASL_SSL"
    assert tls["ssl_context"].check_hostname


_CHANGES = (
    re.compile(r"\bUPDATE\s+([a-z_]+)\s+(?:AS\s+[a-z]+\s+)?SET\b"),
    re.compile(r"\bDELETE\s+FROM\s+([a-z_]+)"),
    re.compile(r"\bINSERT\s+INTO\s+([a-z_]+)\b(?:(?!INSERT\s+INTO)[\s\S])*?ON\s+CONFLICT[^;\"]*?"
               r"DO\s+UPDATE"),
)


def _changed_tables(paths: list[Path]) -> dict[str, set[str]]:
    """Tables the SQL in these files updates or deletes from: privilege -> tables."""
    found: dict[str, set[str]] = {"UPDATE": set(), "DELETE": set()}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for pattern, privilege in zip(_CHANGES, ("UPDATE", "DELETE", "UPDATE"), strict=True):
            found[privilege] |= set(pattern.findall(text))
    return found


@pytest.mark.parametrize("package", ["shared", *SERVICES])
def test_every_table_a_service_updates_or_deletes_from_is_granted_to_its_role(
        package: str) -> None:
    if package == "shared":
        sources = [REPO / "shared" / "messaging.py", REPO / "shared" / "service.py"]
        migrations = "shared.migrations"
    else:
        sources = sorted((REPO / "services" / package).rglob("*.py"))
        migrations = f"services.{package}.migrations"
    granted = mutable_tables([migrations])
    for privilege, tables in _changed_tables(sources).items():
        missing = {t for t in tables if privilege not in granted.get(t, ())}
        assert not missing, f"{migrations} MUTABLE_TABLES lacks {privilege} on {sorted(missing)}"
