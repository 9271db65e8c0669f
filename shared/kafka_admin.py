"""SCRAM users and ACLs through the Kafka protocol, for the super user's tooling.

aiokafka 0.14's admin client has no calls for these; it has the request framing and version
negotiation, so the three requests are declared here from the Kafka protocol (KIP-554
AlterUserScramCredentials v0; CreateAcls v1 and DeleteAcls v1, the oldest versions Kafka 4 still
serves). One Python process applies every user and ACL in a second, where one `kafka-configs` or
`kafka-acls` JVM per call would take minutes.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.admin import DescribeAclsRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    Array,
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    String,
    TaggedFields,
)

from shared.access import Acl, Operation, PatternType, ResourceType
from shared.kafka_client import KafkaAccess, client_options

SCRAM_SHA_512: Final = 2  # ScramMechanism id
SCRAM_ITERATIONS: Final = 8192  # Kafka's minimum for SHA-512 is 4096
# Kafka's wire codes of the ACL enums this project uses.
RESOURCE_TYPES: Final[dict[int, ResourceType]] = {2: "TOPIC", 3: "GROUP"}
PATTERN_TYPES: Final[dict[int, PatternType]] = {3: "LITERAL", 4: "PREFIXED"}
OPERATIONS: Final[dict[int, Operation]] = {3: "READ", 4: "WRITE", 8: "DESCRIBE"}
ALLOW: Final = 3
ANY: Final = 1


class _AlterUserScramCredentialsResponse(Response):  # type: ignore[misc]
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", CompactArray(("user", CompactString("utf-8")), ("error_code", Int16),
                                 ("error_message", CompactString("utf-8")),
                                 ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentialsStruct(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _AlterUserScramCredentialsResponse
    SCHEMA = Schema(
        ("deletions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8),
                                   ("tags", TaggedFields))),
        ("upsertions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8),
                                    ("iterations", Int32), ("salt", CompactBytes),
                                    ("salted_password", CompactBytes), ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentials(Request[_AlterUserScramCredentialsStruct]):  # type: ignore[misc]
    API_KEY = 51

    def __init__(self, upsertions: list[tuple[Any, ...]]) -> None:
        self.upsertions = upsertions

    def build(self, request_struct_class: type[_AlterUserScramCredentialsStruct]
              ) -> _AlterUserScramCredentialsStruct:
        return request_struct_class([], self.upsertions, {})


class _CreateAclsResponse(Response):  # type: ignore[misc]
    API_KEY = 30
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", Array(("error_code", Int16), ("error_message", String("utf-8")))),
    )


# One ACL binding on the wire: a CreateAcls creation, a DeleteAcls filter and its matches.
_ACL_BINDING: Final = (
    ("resource_type", Int8), ("resource_name", String("utf-8")), ("pattern_type", Int8),
    ("principal", String("utf-8")), ("host", String("utf-8")), ("operation", Int8),
    ("permission_type", Int8),
)


class _CreateAclsStruct(RequestStruct):  # type: ignore[misc]
    API_KEY = 30
    API_VERSION = 1
    RESPONSE_TYPE = _CreateAclsResponse
    SCHEMA = Schema(("creations", Array(*_ACL_BINDING)))


class _CreateAcls(Request[_CreateAclsStruct]):  # type: ignore[misc]
    API_KEY = 30

    def __init__(self, creations: list[tuple[Any, ...]]) -> None:
        self.creations = creations

    def build(self, request_struct_class: type[_CreateAclsStruct]) -> _CreateAclsStruct:
        return request_struct_class(self.creations)


_DELETE_FILTER_RESULT: Final = (
    ("error_code", Int16), ("error_message", String("utf-8")),
    ("matching_acls", Array(("error_code", Int16), ("error_message", String("utf-8")),
                            *_ACL_BINDING)),
)


class _DeleteAclsResponse(Response):  # type: ignore[misc]
    API_KEY = 31
    API_VERSION = 1
    SCHEMA = Schema(("throttle_time_ms", Int32), ("results", Array(*_DELETE_FILTER_RESULT)))


class _DeleteAclsStruct(RequestStruct):  # type: ignore[misc]
    API_KEY = 31
    API_VERSION = 1
    RESPONSE_TYPE = _DeleteAclsResponse
    SCHEMA = Schema(("filters", Array(*_ACL_BINDING)))


class _DeleteAcls(Request[_DeleteAclsStruct]):  # type: ignore[misc]
    API_KEY = 31

    def __init__(self, filters: list[tuple[Any, ...]]) -> None:
        self.filters = filters

    def build(self, request_struct_class: type[_DeleteAclsStruct]) -> _DeleteAclsStruct:
        return request_struct_class(self.filters)


async def connect_admin(access: KafkaAccess, deadline: float,
                        client_id: str = "pension-stack") -> AIOKafkaAdminClient:
    """An admin client of a broker that answers metadata with at least one broker registered;
    retried until `deadline` (time.monotonic()), as a broker that is still starting refuses."""
    last_error = "no answer"
    while True:
        admin = AIOKafkaAdminClient(**client_options(access), request_timeout_ms=5000,
                                    client_id=client_id)
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            if cluster.get("brokers"):
                return admin
            last_error = "the cluster has no broker registered yet"
        except (TimeoutError, KafkaError, OSError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        await admin.close()
        if time.monotonic() >= deadline:
            raise TimeoutError(last_error)
        await asyncio.sleep(0.5)


class AdminRequestError(RuntimeError):
    """The broker refused a user or ACL change."""


def _raise_for(results: Iterable[tuple[str, int, str | None]]) -> None:
    problems = [f"{what}: {for_code(code).__name__} {message or ''}".strip()
                for what, code, message in results if code != 0]
    if problems:
        raise AdminRequestError("; ".join(problems))


def salted_password(password: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> bytes:
    """SCRAM's Hi(): PBKDF2-HMAC-SHA-512 (RFC 5802); the broker stores only this and the salt."""
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)


async def upsert_scram_users(admin: AIOKafkaAdminClient, passwords: Mapping[str, str]) -> None:
    """Create or replace each user's SCRAM-SHA-512 credential."""
    upsertions: list[tuple[Any, ...]] = []
    for name, password in sorted(passwords.items()):
        salt = secrets.token_bytes(32)
        upsertions.append((name, SCRAM_SHA_512, SCRAM_ITERATIONS, salt,
                           salted_password(password, salt), {}))
    response = await admin._send_request(_AlterUserScramCredentials(upsertions))
    _raise_for((r[0], r[1], r[2]) for r in response.results)


def _code(names: Mapping[int, str], name: str) -> int:
    return next(code for code, known in names.items() if known == name)


def _wire(acl: Acl) -> tuple[Any, ...]:
    return (_code(RESOURCE_TYPES, acl.resource_type), acl.resource,
            _code(PATTERN_TYPES, acl.pattern), f"User:{acl.principal}", "*",
            _code(OPERATIONS, acl.operation), ALLOW)


async def describe_acls(admin: AIOKafkaAdminClient) -> set[Acl]:
    """Every ALLOW rule of the cluster that this module can express."""
    response = await admin._send_request(
        DescribeAclsRequest(ANY, None, ANY, None, None, ANY, ANY))
    _raise_for([("describe", response.error_code, response.error_message)])
    found: set[Acl] = set()
    for resource_type, resource, pattern, rules in response.resources:
        for principal, host, operation, permission in rules:
            if (permission == ALLOW and host == "*" and principal.startswith("User:")
                    and operation in OPERATIONS and resource_type in RESOURCE_TYPES
                    and pattern in PATTERN_TYPES):
                found.add(Acl(principal.removeprefix("User:"), RESOURCE_TYPES[resource_type],
                              PATTERN_TYPES[pattern], resource, OPERATIONS[operation]))
    return found


async def create_acls(admin: AIOKafkaAdminClient, acls: Iterable[Acl],
                      timeout_s: float = 30.0) -> None:
    """Create the rules and return once the broker enforces them: the controller commits them
    first, the broker's authorizer applies them from the metadata log a moment later."""
    wanted = set(acls)
    creations = [_wire(acl) for acl in sorted(wanted)]
    if not creations:
        return
    response = await admin._send_request(_CreateAcls(creations))
    _raise_for((str(c[1]), r[0], r[1]) for c, r in zip(creations, response.results, strict=True))
    deadline = time.monotonic() + timeout_s
    while not wanted <= await describe_acls(admin):
        if time.monotonic() > deadline:
            raise AdminRequestError(f"the broker did not apply {len(wanted)} ACL(s) "
                                    f"within {timeout_s:g} s")
        await asyncio.sleep(0.05)


async def delete_acls(admin: AIOKafkaAdminClient, acls: Iterable[Acl]) -> None:
    filters = [_wire(acl) for acl in sorted(set(acls))]
    if filters:
        response = await admin._send_request(_DeleteAcls(filters))
        _raise_for((str(f[1]), r[0], r[1]) for f, r in zip(filters, response.results,
                                                          strict=True))
