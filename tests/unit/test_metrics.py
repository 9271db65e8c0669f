"""Metrics show the present: settled business figures disappear, a halted consumer reads 0."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from shared import service
from shared.metrics import Metrics
from shared.settings import Settings


def business(metrics: Metrics, name: str, entity: str) -> float | None:
    return metrics.registry.get_sample_value(
        "pension_business_gauge",
        {"service": metrics.service, "name": name, "fiscal_entity_code": entity})


def test_a_business_figure_no_longer_reported_is_removed_not_kept_at_its_last_value() -> None:
    metrics = Metrics("collection")
    metrics.set_business([("declarations_overdue", "150100", 3),
                          ("declarations_overdue", "150200", 1)])
    assert business(metrics, "declarations_overdue", "150100") == 3
    metrics.set_business([("declarations_overdue", "150200", 2)])
    assert business(metrics, "declarations_overdue", "150100") is None
    assert business(metrics, "declarations_overdue", "150200") == 2
    metrics.set_business([])
    assert business(metrics, "declarations_overdue", "150200") is None


def test_the_consumer_counts_as_running_only_until_it_halts_or_a_task_fails() -> None:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1",
                        database_url="postgresql://unused@127.0.0.1:1/unused")
    state = service.Runtime(settings=settings, metrics=Metrics("collection"))
    assert service._consumer_running(state) is False  # not started yet
    processor = SimpleNamespace(halted=False)
    state.processor = cast(Any, processor)
    assert service._consumer_running(state) is True
    processor.halted = True
    assert service._consumer_running(state) is False
    processor.halted = False
    state.failed = True
    assert service._consumer_running(state) is False


def test_dead_letter_counters_start_at_zero_so_the_first_one_shows_as_an_increase() -> None:
    metrics = Metrics("fund_transfer")
    for reason in ("NOT_JSON", "UNKNOWN_TYPE", "TOO_LARGE"):
        value = metrics.registry.get_sample_value(
            "pension_dead_letters_total", {"service": "fund_transfer", "reason": reason})
        assert value == 0


def test_the_process_start_time_is_exposed_so_restart_loops_can_alert() -> None:
    start = Metrics("collection").registry.get_sample_value("process_start_time_seconds")
    assert start is not None
    assert start > 1_600_000_000
