"""The service shell stops loudly, never silently: dead background tasks, unreadable batches."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

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
        metrics=state.metrics, now=service.now_shanghai)


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
