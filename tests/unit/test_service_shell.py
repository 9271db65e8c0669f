"""The service shell stops loudly, never silently: dead background tasks, unreadable batches."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from shared import messaging, service
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


async def test_a_batch_that_cannot_be_read_halts_the_consumer_instead_of_skipping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_reader(raw: bytes | None, entity_fields: dict[str, str]) -> Any:
        raise TypeError("a bug in reading")

    monkeypatch.setattr(messaging, "read_envelope", broken_reader)
    state = runtime()

    async def handler(conn: Any, batch: Any, outbox: Any) -> None:
        raise AssertionError("never reached")

    processor = messaging.BatchProcessor(
        service="test", consumer_group="test", pool=cast(Any, None), entity_fields={},
        handled_types=frozenset(), handler=handler, settings=state.settings,
        metrics=state.metrics, now=service.now_shanghai)
    record = messaging.Record("t", 0, 0, None, b"{}", ())
    with pytest.raises(messaging.HaltedError):
        await processor.process([record])
    assert processor.halted is True
    with pytest.raises(messaging.HaltedError):
        await processor.process([record])  # and it stays halted
