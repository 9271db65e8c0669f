"""The daily scheduler on the real database: its first start only records its day; after
downtime every missed day's command is published once, in order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from shared.contracts.assessment import ASSESSMENT_REQUESTED, AssessmentRequested
from shared.db import create_pool, migrate
from shared.metrics import Metrics
from shared.service import Runtime, ServiceSpec, publish_scheduled_commands, scheduled_command
from tests.integration.probe_service import probe_spec
from tests.support import CREATED_SCHEMA_PATTERNS, random_name, settings_for_tests

pytestmark = pytest.mark.usefixtures("stack_env")
DEADLINE = "ops.deadline_check.requested.v1"


Published = list[tuple[str, str, dict[str, str]]]  # event id, type and data of each command


async def scheduled_on(spec: ServiceSpec,
                       days: list[dt.date]) -> tuple[list[list[dt.date]], Published]:
    """The scheduler run on each of `days` in turn, on a fresh schema: the days each run
    published, and every command in the outbox."""
    CREATED_SCHEMA_PATTERNS.append(spec.name)
    runtime = Runtime(settings=settings_for_tests(), metrics=Metrics(spec.name))
    runtime.pool = await create_pool(runtime.settings, spec.name, spec.name)
    try:
        await migrate(runtime.pool, spec.name, ["shared.migrations"])
        published = [await publish_scheduled_commands(spec, runtime, day) for day in days]
        rows = await runtime.pool.fetch("SELECT event_id, value FROM outbox ORDER BY id")
    finally:
        await runtime.pool.close()
    values = [(row["event_id"], json.loads(row["value"])) for row in rows]
    return published, [(event_id, value["type"], value["data"]) for event_id, value in values]


async def scheduled(spec: ServiceSpec) -> tuple[list[list[dt.date]], list[tuple[str, str]]]:
    """First start on 2025-04-06, then 2025-04-09 (three days missed), then 2025-04-09 again."""
    published, commands = await scheduled_on(spec, [dt.date(2025, 4, day) for day in (6, 9, 9)])
    return published, [(event_id, data["as_of"]) for event_id, _, data in commands]


async def test_missed_days_are_published_in_order_once_each() -> None:
    spec = dataclasses.replace(probe_spec(random_name("sched"), "unused"),
                               scheduled_command_types=(DEADLINE,))
    published, rows = await scheduled(spec)
    assert published == [[], [dt.date(2025, 4, 7), dt.date(2025, 4, 8), dt.date(2025, 4, 9)],
                         []]
    assert [as_of for _, as_of in rows] == ["2025-04-07", "2025-04-08", "2025-04-09"]
    assert len({event_id for event_id, _ in rows}) == 3


async def test_the_previous_month_is_assessed_once_on_the_assessment_day_even_after_downtime(
) -> None:
    spec = dataclasses.replace(probe_spec(random_name("sched"), "unused"),
                               scheduled_command_types=(DEADLINE, ASSESSMENT_REQUESTED))
    # First start on 04-14, down from 04-15 to 04-18: the 16th is caught up on 04-18.
    _, published = await scheduled_on(spec, [dt.date(2025, 4, 14), dt.date(2025, 4, 18),
                                             dt.date(2025, 4, 20)])
    assessments = [data for _, event_type, data in published
                   if event_type == ASSESSMENT_REQUESTED]
    assert assessments == [{"command_id": f"schedule-{spec.name}-assessment-2025-03",
                            "period": "2025-03", "as_of": "2025-04-16"}]
    AssessmentRequested.model_validate(assessments[0])
    assert [data["as_of"] for _, event_type, data in published if event_type == DEADLINE] == [
        f"2025-04-{day}" for day in range(15, 21)]


def test_january_assesses_the_previous_december() -> None:
    data = scheduled_command("collection", ASSESSMENT_REQUESTED, dt.date(2026, 1, 16), 16)
    assert data is not None
    assert data["period"] == "2025-12"
    assert scheduled_command("collection", ASSESSMENT_REQUESTED, dt.date(2026, 1, 17), 16) is None
