"""How every Kafka client of the project reaches and authenticates to the broker.

One set of environment variables for services, the operator CLI, tests, the benchmark, the demo
feeder and deploy/*.py: `KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_SECURITY_PROTOCOL` (`SASL_PLAINTEXT` on
loopback, `SASL_SSL` elsewhere), `KAFKA_SASL_MECHANISM` (`SCRAM-SHA-512`), `KAFKA_SASL_USERNAME`,
`KAFKA_SASL_PASSWORD` and, with TLS, `KAFKA_SSL_CAFILE`. There is no default principal and no
default password: a client without them does not start.

The FastStream `security=` object is the single source; the keyword arguments of raw aiokafka
clients are derived from it by FastStream's own parser, so both kinds of client always agree.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

from faststream.kafka.security import parse_security
from faststream.security import SASLScram512
from pydantic import FilePath, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["SASL_PLAINTEXT", "SASL_SSL"]


class KafkaAccess(BaseSettings):
    """Broker address and credentials of one principal, from the `KAFKA_*` environment."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True,
                                      env_ignore_empty=True)

    kafka_bootstrap_servers: str
    kafka_security_protocol: SecurityProtocol = "SASL_PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: FilePath | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Self:
        """From `KEY=value` pairs (a `deploy/stack.sh client-config` output, a test's chosen
        principal) alone: a field the mapping lacks takes its default, never the environment's."""
        fields: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            if values.get(name.upper()):
                fields[name] = values[name.upper()]
            elif not info.is_required():
                fields[name] = info.default
        return cls(**fields)

    @property
    def principal(self) -> str:
        """Who this client is to the broker's ACLs (never a secret; fine in logs and audits)."""
        return self.kafka_sasl_username or ""

    def credentials(self) -> tuple[str, str]:
        """(username, password); a clear error instead of an anonymous client the broker refuses."""
        if not self.kafka_sasl_username or self.kafka_sasl_password is None:
            raise MissingCredentialsError(
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD must be set (the local stack prints "
                "them: eval \"$(bash deploy/stack.sh env)\", or client-config PRINCIPAL)"
            )
        return self.kafka_sasl_username, self.kafka_sasl_password.get_secret_value()

    @model_validator(mode="after")
    def _tls_has_a_trust_anchor(self) -> Self:
        if self.kafka_ssl_cafile is not None and self.kafka_security_protocol != "SASL_SSL":
            raise ValueError("KAFKA_SSL_CAFILE is set but KAFKA_SECURITY_PROTOCOL is not SASL_SSL")
        return self


class MissingCredentialsError(ValueError):
    """A Kafka client was asked for without a principal: refused before connecting."""


def broker_security(access: KafkaAccess) -> SASLScram512:
    """The FastStream `security=` of this principal."""
    username, password = access.credentials()
    if access.kafka_security_protocol == "SASL_SSL":
        return SASLScram512(username, password, ssl_context=_ssl_context(access.kafka_ssl_cafile))
    return SASLScram512(username, password)


def client_options(access: KafkaAccess) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
    return {"bootstrap_servers": access.kafka_bootstrap_servers,
            **parse_security(broker_security(access))}


def _ssl_context(cafile: Path | None) -> ssl.SSLContext:
    # Verifies the broker's certificate and host name; the local stack's CA signs 127.0.0.1 and
    # localhost. Without a CA file the system's trust store is used.
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
