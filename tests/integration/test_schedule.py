"""The daily scheduler on the real database: its first start only records its day; after
downtime every missed day's command is published once, in order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from shared.db import create_pool, migrate
from shared.metrics import Metrics
from shared.service import Runtime, ServiceSpec, publish_scheduled_commands
from tests.integration.probe_service import probe_spec
from tests.support import CREATED_SCHEMA_PATTERNS, random_name, settings_for_tests

pytestmark = pytest.mark.usefixtures("stack_env")
DEADLINE = "ops.deadline_check.requested.v1"


async def scheduled(spec: ServiceSpec) -> tuple[list[list[dt.date]], list[tuple[str, str]]]:
    """First start on 2025-04-06, then 2025-04-09 (three days missed), then 2025-04-09 again."""
    CREATED_SCHEMA_PATTERNS.append(spec.name)
    runtime = Runtime(settings=settings_for_tests(), metrics=Metrics(spec.name))
    runtime.pool = await create_pool(runtime.settings, spec.name, spec.name)
    try:
        await migrate(runtime.pool, spec.name, ["shared.migrations"])
        published = [await publish_scheduled_commands(spec, runtime, dt.date(2025, 4, day))
                     for day in (6, 9, 9)]
        rows = await runtime.pool.fetch("SELECT event_id, value FROM outbox ORDER BY id")
    finally:
        await runtime.pool.close()
    return published, [(row["event_id"], json.loads(row["value"])["data"]["as_of"])
                       for row in rows]


async def test_missed_days_are_published_in_order_once_each() -> None:
    spec = dataclasses.replace(probe_spec(random_name("sched"), "unused"),
                               scheduled_command_types=(DEADLINE,))
    published, rows = await scheduled(spec)
    assert published == [[], [dt.date(2025, 4, 7), dt.date(2025, 4, 8), dt.date(2025, 4, 9)],
                         []]
    assert [as_of for _, as_of in rows] == ["2025-04-07", "2025-04-08", "2025-04-09"]
    assert len({event_id for event_id, _ in rows}) == 3
