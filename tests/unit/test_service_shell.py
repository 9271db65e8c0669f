"""The service shell stops loudly, never silently, and rides through transient failures: dead
background tasks stop it, a record that cannot be read is that record's dead letter, outages are
retried degraded within a time budget, and background tasks never end it for a transient cause."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, cast

import asyncpg
import pytest
from aiokafka.errors import IllegalStateError

from shared import messaging, service
from shared.contracts.registry import ENTITY_FIELDS
from shared.contracts.wire import read_envelope
from shared.metrics import Metrics
from shared.settings import Settings


def runtime() -> service.Runtime:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1",
                        database_url="postgresql://unused@127.0.0.1:1/unused")
    return service.Runtime(settings=settings, metrics=Metrics("test"))


async def test_a_crashed_background_task_marks_the_service_failed_and_asks_to_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exits: list[bool] = []
    monkeypatch.setattr(service, "_request_exit", lambda: exits.append(True))

    async def broken() -> None:
        raise RuntimeError("relay bug")

    state = runtime()
    service._background(state, broken(), "outbox-relay")
    await asyncio.sleep(0.01)
    assert state.failed is True
    assert exits == [True]


async def test_a_cancelled_background_task_is_a_normal_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exits: list[bool] = []
    monkeypatch.setattr(service, "_request_exit", lambda: exits.append(True))
    state = runtime()
    service._background(state, asyncio.sleep(60), "watch")
    await asyncio.sleep(0)
    state.tasks[0].cancel()
    await asyncio.gather(*state.tasks, return_exceptions=True)
    assert state.failed is False
    assert exits == []


def test_limits_are_checked_at_start() -> None:
    with pytest.raises(ValueError, match="db_pool_size_min"):
        Settings(kafka_bootstrap_servers="x", database_url="postgresql://x",
                 db_pool_size_min=9, db_pool_size_max=2)


def _processor(check: messaging.Check) -> messaging.BatchProcessor:
    state = runtime()

    async def apply(conn: Any, batch: Any, outbox: Any) -> None:
        raise AssertionError("never reached")

    return messaging.BatchProcessor(
        service="test", consumer_group="test", pool=cast(Any, None), entity_fields=ENTITY_FIELDS,
        handled_types=frozenset({"tax.contribution.paid.v1"}),
        handling=messaging.Handling(apply=apply, check=check), settings=state.settings,
        metrics=state.metrics, now=state.clock.now)


PAYMENT = (b'{"specversion":"1.0","id":"E-1","source":"/tax/1","type":"tax.contribution.paid.v1",'
           b'"time":"2025-04-10T09:30:00+08:00","datacontenttype":"application/json",'
           b'"data":{"payment_id":"P-1"}}')


def test_a_reader_that_raises_dead_letters_that_record_and_reads_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_on_first(raw: bytes | None, entity_fields: dict[str, str]) -> Any:
        if raw == b"{}":
            raise TypeError("a bug in reading")
        return read_envelope(raw, entity_fields)

    monkeypatch.setattr(messaging, "read_envelope", broken_on_first)
    sorted_ = _processor(lambda event: "checked")._sort([
        messaging.Record("t", 0, 0, None, b"{}", ()),
        messaging.Record("t", 0, 1, None, PAYMENT, ()),
    ])
    [(record, verdict)] = sorted_.dead
    assert (record.offset, verdict.reason) == (0, "NOT_CLOUDEVENT")
    assert "TypeError" in verdict.detail
    assert [(e.record.offset, e.item) for e in sorted_.events] == [(1, "checked")]


def test_a_check_that_raises_dead_letters_that_record_instead_of_halting() -> None:
    def check(event: messaging.Inbound) -> object:
        raise KeyError("lines")

    processor = _processor(check)
    sorted_ = processor._sort([messaging.Record("t", 0, 5, None, PAYMENT, ())])
    [(record, verdict)] = sorted_.dead
    assert (record.offset, verdict.reason, sorted_.events) == (5, "NOT_CLOUDEVENT", [])
    assert "KeyError raised while checking tax.contribution.paid.v1" in verdict.detail
    assert processor.halted is False


def test_backoff_grows_jittered_to_its_ceiling_and_a_budget_ends_it() -> None:
    backoff = messaging.Backoff(100, 800, budget_s=None)
    delays = [backoff.next_delay_s() for _ in range(8)]
    ceilings = [0.1, 0.2, 0.4, 0.8, 0.8, 0.8, 0.8, 0.8]
    assert all(d is not None and c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    spent = messaging.Backoff(100, 800, budget_s=0.05)
    assert spent.next_delay_s() is None  # the first delay (>= 50 ms) would pass the budget


async def test_a_transient_failure_is_retried_degraded_until_it_heals() -> None:
    processor = _processor(lambda event: None)
    processor.settings = processor.settings.model_copy(
        update={"retry_backoff_ms_min": 1, "retry_backoff_ms_max": 2})
    failures = [ConnectionError("database restarting")] * 5
    seen_retrying: list[bool] = []

    async def transaction(sorted_: Any) -> dict[str, int]:
        seen_retrying.append(processor.retrying)
        if failures:
            raise failures.pop()
        return {"new": 0}

    processor._transaction = transaction  # type: ignore[method-assign]
    await processor.process([])
    assert seen_retrying == [False, True, True, True, True, True]
    assert processor.retrying is False
    assert processor.halted is False


async def test_transient_failures_past_the_retry_budget_halt_the_consumer() -> None:
    processor = _processor(lambda event: None)
    processor.settings = processor.settings.model_copy(
        update={"retry_budget_s": 1, "retry_backoff_ms_min": 400, "retry_backoff_ms_max": 400})

    async def transaction(sorted_: Any) -> dict[str, int]:
        raise ConnectionError("database gone for good")

    processor._transaction = transaction  # type: ignore[method-assign]
    with pytest.raises(messaging.HaltedError, match="retry budget"):
        await processor.process([])
    assert processor.halted is True


async def test_the_watcher_survives_a_partition_moving_away_and_a_database_outage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    async def lag(spec: Any, state: Any) -> None:
        calls.append("lag")
        raise IllegalStateError("partition is not assigned")

    async def gauges(spec: Any, state: Any) -> None:
        calls.append("gauges")
        raise ConnectionError("database restarting")

    monkeypatch.setattr(service, "WATCH_INTERVAL_S", 0.001)
    monkeypatch.setattr(service, "_refresh_lag", lag)
    monkeypatch.setattr(service, "_refresh_database_gauges", gauges)
    task = asyncio.create_task(service._watch(cast(Any, None), runtime()))
    await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    assert calls.count("lag") >= 3
    assert calls.count("gauges") >= 3


async def test_the_scheduler_retries_a_database_outage_instead_of_ending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = runtime()
    state.settings = state.settings.model_copy(
        update={"retry_backoff_ms_min": 1, "retry_backoff_ms_max": 2})
    state.relay = cast(Any, type("Relay", (), {"wakeup": asyncio.Event()})())
    outcomes: list[Any] = [ConnectionError("down"), asyncpg.CannotConnectNowError("starting"),
                           [dt.date(2025, 4, 6)]]

    async def publish(spec: Any, state_: Any, latest_due: dt.date) -> list[dt.date]:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return cast(list[dt.date], outcome)

    monkeypatch.setattr(service, "publish_scheduled_commands", publish)
    await service._publish_due_days(cast(Any, None), state, dt.date(2025, 4, 6))
    assert outcomes == []
    assert state.relay is not None
    assert state.relay.wakeup.is_set()
