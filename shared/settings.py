"""Settings of every service, from the environment; limits carry units and are checked at start."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.kafka_client import KafkaAccess

CrashPoint = Literal["after_fetch", "mid_transaction", "after_db_commit", "relay_after_send"]
NAMESPACE_PATTERN = r"^([a-z][a-z0-9]{0,20})?$"


class MigrationSettings(BaseSettings):
    """The migration step's: the database owner's URL and the namespace of the schema."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True,
                                      env_ignore_empty=True)

    database_url: SecretStr
    # Isolates a test run on a shared broker and database: topics become "<namespace>.<topic>",
    # the schema and consumer group "<service>_<namespace>". Empty in production.
    namespace: str = Field("", pattern=NAMESPACE_PATTERN)
    db_connect_timeout_ms: int = Field(10_000, ge=100)

    def schema_for(self, service: str) -> str:
        return f"{service}_{self.namespace}" if self.namespace else service


class Settings(KafkaAccess, MigrationSettings):
    """One service's configuration: its Kafka principal (`KafkaAccess`, the `KAFKA_*` variables)
    and its database role (`DATABASE_URL`), neither with a default, plus limits with units."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True,
                                      env_ignore_empty=True)

    rule_set: Literal["production", "local"] = "production"

    batch_records_max: int = Field(500, ge=1, le=10_000)
    batch_timeout_ms: int = Field(100, ge=1, le=10_000)
    # One fetch from the broker, so one consumed batch, holds about this much (one record larger
    # than it still comes alone): a hostile 4 MiB record can take ~130 MB to read and check
    # (make bench), and a batch of a dozen of them must not be read at once.
    kafka_fetch_bytes_max: int = Field(4 * 1024 * 1024 + 64 * 1024, ge=64 * 1024)
    kafka_request_timeout_ms: int = Field(30_000, ge=1_000)
    kafka_session_timeout_ms: int = Field(10_000, ge=1_000)
    # Longer than the retry budget: a consumer riding through an outage is not a dead member
    # whose partitions must move (they would stall on the same outage anyway).
    kafka_max_poll_interval_ms: int = Field(900_000, ge=10_000)

    db_pool_size_min: int = Field(1, ge=1)
    db_pool_size_max: int = Field(8, ge=1, le=100)
    db_statement_timeout_ms: int = Field(60_000, ge=100)
    db_lock_timeout_ms: int = Field(10_000, ge=100)

    # Transient failures (database or broker gone, serialization conflicts) are retried with
    # jittered exponential backoff for this long: long enough to ride through a database
    # restart or failover and a broker restart, unready meanwhile; then the consumer halts.
    retry_budget_s: int = Field(600, ge=1, le=86_400)
    retry_backoff_ms_min: int = Field(100, ge=1)
    retry_backoff_ms_max: int = Field(5_000, ge=1)

    relay_batch_size_max: int = Field(1_000, ge=1, le=50_000)
    # Bounds a relay batch in bytes too: a batch of a thousand 4 MiB dead letters would hold
    # gigabytes in memory at once. A single larger row still goes out alone.
    relay_batch_bytes_max: int = Field(16 * 1024 * 1024, ge=1024)
    # /readyz says unready when an event has waited this long to be published (broker down,
    # rows refused, relay stuck): the service is not answering in time even if it consumes.
    outbox_unpublished_age_s_max: int = Field(120, ge=1)
    relay_idle_ms: int = Field(50, ge=1, le=60_000)

    http_host: str = "127.0.0.1"
    # None: the service's own default port; 0: any free port (tests run several at once).
    http_port: int | None = Field(None, ge=0, le=65535)

    schedule_enabled: bool = True
    schedule_hour_local: int = Field(1, ge=0, le=23)
    # The scheduler assesses the previous month on this day (the annuity's remittances of a month
    # fall due on the 15th of the next; appropriations by the month's last day).
    assessment_day_of_month: int = Field(16, ge=1, le=28)

    crash_at: CrashPoint | None = Field(None, alias="PENSION_CRASH_AT")
    # With a crash point under a supervisor: crash only if this file can still be created, so
    # the restarted process runs through the point (a fault that fires once, then heals).
    crash_once_file: str | None = Field(None, alias="PENSION_CRASH_ONCE_FILE")
    # Set by a supervisor (deploy/services.sh): how often it restarted this service and the exit
    # code of the run before this one; /readyz shows them, so `pension-ops status` does.
    restarts: int = Field(0, ge=0, alias="PENSION_RESTARTS")
    last_exit_code: int | None = Field(None, alias="PENSION_LAST_EXIT_CODE")

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}" if self.namespace else name

    @model_validator(mode="after")
    def _limits_are_ordered(self) -> Self:
        if self.db_pool_size_min > self.db_pool_size_max:
            raise ValueError("db_pool_size_min must be <= db_pool_size_max")
        if self.retry_backoff_ms_min > self.retry_backoff_ms_max:
            raise ValueError("retry_backoff_ms_min must be <= retry_backoff_ms_max")
        if self.retry_budget_s * 1000 >= self.kafka_max_poll_interval_ms:
            raise ValueError("retry_budget_s must be shorter than kafka_max_poll_interval_ms")
        return self
