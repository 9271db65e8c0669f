"""Prometheus metrics every service exposes; labels never carry identity numbers or entity ids."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from shared.contracts.topology import DEAD_LETTER_REASONS


class Metrics:
    """One registry per service process, so tests can build several services in one process."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        labels = ["service"]
        self.records_consumed = Counter(
            "pension_records_consumed_total", "Records fetched from Kafka",
            [*labels, "topic"], registry=self.registry,
        )
        self.handled = Counter(
            "pension_records_handled_total", "Records handled, by outcome",
            [*labels, "outcome"], registry=self.registry,
        )
        self.rejections = Counter(
            "pension_rejections_total", "Rejection reasons emitted, by reason code",
            [*labels, "event_type", "code"], registry=self.registry,
        )
        self.dead_letters = Counter(
            "pension_dead_letters_total", "Records sent to the dead-letter topic, by reason",
            [*labels, "reason"], registry=self.registry,
        )
        # At 0 from the start: a series born at 1 shows Prometheus no increase, and the first
        # dead letter of a process would not alert.
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(service, reason)
        self.events_published = Counter(
            "pension_events_published_total", "Outbox events published",
            [*labels, "topic"], registry=self.registry,
        )
        self.batch_duration = Histogram(
            "pension_batch_duration_seconds", "Time to handle one consumed batch",
            labels, registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.transient_retries = Counter(
            "pension_transient_retries_total", "Batch retries after transient database errors",
            labels, registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "pension_consumer_lag_records", "Records behind the end of each partition",
            [*labels, "topic", "partition"], registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "pension_outbox_backlog_events", "Outbox events not yet published",
            labels, registry=self.registry,
        )
        self.outbox_set_aside = Counter(
            "pension_outbox_set_aside_total",
            "Outbox rows the broker refused for good, set aside, by the error's class",
            [*labels, "reason"], registry=self.registry,
        )
        self.outbox_set_aside_rows = Gauge(
            "pension_outbox_set_aside_rows", "Outbox rows set aside and not released",
            labels, registry=self.registry,
        )
        self.outbox_oldest_unpublished = Gauge(
            "pension_outbox_oldest_unpublished_seconds",
            "Age of the oldest outbox row waiting to be published (0 when none)",
            labels, registry=self.registry,
        )
        self.business = Gauge(
            "pension_business_gauge", "Business figures operators ask about",
            [*labels, "name", "fiscal_entity_code"], registry=self.registry,
        )
        # /readyz says the same, but Prometheus scrapes /metrics: an alert needs it here.
        self.consumer_running = Gauge(
            "pension_consumer_running",
            "1 while the consumer runs; 0 once it halted or a background task failed",
            labels, registry=self.registry,
        )
        # process_start_time_seconds: a consumer that halts on the same batch after every
        # restart shows as a process that keeps starting.
        ProcessCollector(registry=self.registry)
        self._business_series: set[tuple[str, str]] = set()

    def set_business(self, figures: Iterable[tuple[str, str, int]]) -> None:
        """This round's business figures, (name, fiscal entity code, value); a series that is no
        longer reported is removed, so an entity whose overdue items were settled stops showing
        (and alerting on) its last overdue figure."""
        fresh: set[tuple[str, str]] = set()
        for name, entity, value in figures:
            self.business.labels(self.service, name, entity).set(value)
            fresh.add((name, entity))
        for name, entity in self._business_series - fresh:
            self.business.remove(self.service, name, entity)
        self._business_series = fresh
