"""Each principal may do on the real broker what shared/access.py grants, and is refused the rest.

The tests run in a fresh namespace whose ACLs are the production set for `<ns>.` topics and
`<service>_<ns>` groups (tests/support.py `create_namespace`), as the stack's real SCRAM users;
every refusal is the broker's authorisation error, not a timeout. Also: a client without
credentials or with a wrong password gets nothing at all, and SASL_SSL works end to end.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from shared.access import FINANCE, HR, OPERATOR, TAX_BUREAU, Acl
from shared.kafka_admin import AdminRequestError, create_acls
from shared.kafka_client import KafkaAccess, client_options
from tests.support import client_config, create_namespace, kafka_options

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack_env")]
TIMEOUT_S = 20


@pytest.fixture(scope="module")
async def ns() -> str:
    return await create_namespace(partitions=1)


async def write(options: dict[str, Any], topic: str) -> None:
    producer = AIOKafkaProducer(**options, request_timeout_ms=5000, enable_idempotence=True)
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"probe", key=b"k"), TIMEOUT_S)
    finally:
        await producer.stop()


async def read(options: dict[str, Any], topic: str, group: str | None = None) -> None:
    """Fetch from the topic (no group: as the operator tool reads; a group: as services do)."""
    consumer = AIOKafkaConsumer(**options, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=False, request_timeout_ms=5000)
    await consumer.start()
    try:
        if group is None:
            # Without DESCRIBE the topic is not in the metadata: refused here. With DESCRIBE
            # (implied by WRITE) but no READ, the fetch below is refused.
            await consumer._client._wait_on_metadata(topic)
            consumer.assign([TopicPartition(topic, 0)])
        else:
            consumer.subscribe([topic])
        await asyncio.wait_for(consumer.getmany(timeout_ms=2000), TIMEOUT_S)
    finally:
        await consumer.stop()


ALLOWED = [
    ("tax-bureau publishes declarations", TAX_BUREAU, "write", "tax.contribution.declarations"),
    ("tax-bureau publishes payments", TAX_BUREAU, "write", "tax.contribution.payments"),
    ("finance publishes settlements", FINANCE, "write", "finance.transfer.settlements"),
    ("finance publishes appropriations", FINANCE, "write", "finance.subsidy.appropriations"),
    ("finance reads notices", FINANCE, "read", "transfer.notices"),
    ("finance reads obligations", FINANCE, "read", "transfer.obligations"),
    ("hr publishes its events", HR, "write", "hr.annuity.events"),
    ("collection publishes its outcomes", "collection", "write", "collection.declarations"),
    ("collection writes its dead letters", "collection", "write", "collection.dlq"),
    ("collection publishes its commands", "collection", "write", "ops.commands"),
    ("fund_transfer publishes notices", "fund_transfer", "write", "transfer.notices"),
    ("annuity publishes transfer requests", "occupational_annuity", "write", "transfer.requests"),
    ("operator reads identity numbers' topic", OPERATOR, "read", "collection.declarations"),
    ("operator reads dead letters", OPERATOR, "read", "fund_transfer.dlq"),
    ("operator publishes commands", OPERATOR, "write", "ops.commands"),
    ("operator replays into an inbound topic", OPERATOR, "write", "tax.contribution.payments"),
]

REFUSED = [
    ("tax-bureau settles a transfer", TAX_BUREAU, "write", "finance.transfer.settlements"),
    ("tax-bureau reads back its own topic", TAX_BUREAU, "read", "tax.contribution.declarations"),
    ("tax-bureau reads registrations", TAX_BUREAU, "read", "collection.declarations"),
    ("finance publishes a command", FINANCE, "write", "ops.commands"),
    ("finance forges a notice", FINANCE, "write", "transfer.notices"),
    ("finance reads identity numbers", FINANCE, "read", "collection.declarations"),
    ("hr publishes a declaration", HR, "write", "tax.contribution.declarations"),
    ("collection forges a notice", "collection", "write", "transfer.notices"),
    ("collection writes another dead-letter topic", "collection", "write", "fund_transfer.dlq"),
    ("collection reads settlements", "collection", "read", "finance.transfer.settlements"),
    ("fund_transfer reads declarations", "fund_transfer", "read",
     "tax.contribution.declarations"),
    ("annuity writes the ledger of notices", "occupational_annuity", "write", "transfer.notices"),
    ("operator writes a service's output", OPERATOR, "write", "annuity.ledger"),
    ("operator writes obligations", OPERATOR, "write", "transfer.obligations"),
]


@pytest.mark.parametrize(("what", "principal", "action", "topic"), ALLOWED,
                         ids=[case[0] for case in ALLOWED])
async def test_a_principal_may_do_what_its_role_needs(ns: str, what: str, principal: str,
                                                     action: str, topic: str) -> None:
    act = write if action == "write" else read
    await act(kafka_options(principal), f"{ns}.{topic}")


@pytest.mark.parametrize(("what", "principal", "action", "topic"), REFUSED,
                         ids=[case[0] for case in REFUSED])
async def test_a_principal_is_refused_what_its_role_does_not_need(
        ns: str, what: str, principal: str, action: str, topic: str) -> None:
    act = write if action == "write" else read
    with pytest.raises(TopicAuthorizationFailedError):
        await act(kafka_options(principal), f"{ns}.{topic}")


async def test_a_service_consumes_in_its_own_group_only(ns: str) -> None:
    topic = f"{ns}.finance.transfer.settlements"
    await read(kafka_options("fund_transfer"), topic, group=f"fund_transfer_{ns}")
    with pytest.raises(GroupAuthorizationFailedError):
        await read(kafka_options("fund_transfer"), topic, group=f"collection_{ns}")
    with pytest.raises(GroupAuthorizationFailedError):
        await read(kafka_options(OPERATOR), topic, group=f"fund_transfer_{ns}")


async def test_no_principal_but_admin_creates_topics_or_changes_acls(ns: str) -> None:
    for principal in (OPERATOR, "collection"):
        admin = AIOKafkaAdminClient(**kafka_options(principal), request_timeout_ms=5000)
        await admin.start()
        try:
            response = await admin.create_topics([NewTopic(f"{ns}.made-by-{principal}", 1, 1)])
            [(_, code, *_)] = response.topic_errors
            assert code == TopicAuthorizationFailedError.errno, principal
            with pytest.raises(AdminRequestError, match="ClusterAuthorizationFailed"):
                await create_acls(admin, [Acl(principal, "TOPIC", "LITERAL", f"{ns}.x", "WRITE")])
        finally:
            await admin.close()


async def test_a_client_without_credentials_or_with_a_wrong_password_gets_nothing(
        caplog: pytest.LogCaptureFixture) -> None:
    anonymous = {"bootstrap_servers": client_config(OPERATOR)["KAFKA_BOOTSTRAP_SERVERS"]}
    wrong = {**kafka_options(OPERATOR), "sasl_plain_password": "not-the-password" * 3}
    caplog.set_level(logging.CRITICAL, logger="aiokafka")  # refused connections log ERROR
    for options in (anonymous, wrong):
        producer = AIOKafkaProducer(**options, request_timeout_ms=3000)
        with pytest.raises(KafkaConnectionError):
            await producer.start()
        await producer.stop()


async def test_sasl_ssl_with_the_stacks_ca_publishes_and_reads_back(
        ns: str, caplog: pytest.LogCaptureFixture) -> None:
    tls = client_config(OPERATOR, "--tls")
    assert tls["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert tls["KAFKA_SSL_CAFILE"].endswith("ca.pem")
    options = client_options(KafkaAccess.from_mapping(tls))
    await write(options, f"{ns}.ops.commands")
    await read(options, f"{ns}.ops.commands")
    # The same listener refuses a client that does not trust the stack's CA.
    untrusting = client_options(KafkaAccess.from_mapping(
        {k: v for k, v in tls.items() if k != "KAFKA_SSL_CAFILE"}))
    caplog.set_level(logging.CRITICAL, logger="aiokafka")
    with pytest.raises(KafkaError):
        await write(untrusting, f"{ns}.ops.commands")
