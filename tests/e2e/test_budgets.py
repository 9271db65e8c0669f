"""fund_transfer on the real broker and database measures "in full" against regional finance's
budgets too (policy 二(一)2, 二(二)5): a budgeted month past its appropriation's due date with no
appropriation is reported missing, one appropriated below the budget is reported below budget,
each once per check date; budget revisions replace the budget in force."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.fund_transfer import app
from shared.contracts import finance, transfer
from shared.contracts.export import event_models
from tests.support import cloudevent, create_namespace, publish, read_topic, service_running

pytestmark = pytest.mark.usefixtures("stack_env")
FUND = "enterprise_basic_pension"
_YEARS = itertools.count(random.randrange(2100, 2190))  # a year no other test here uses


@pytest.fixture(scope="module")
async def ns() -> AsyncIterator[str]:
    namespace = await create_namespace()
    async with service_running(app.spec(), namespace):
        yield namespace


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def send(ns: str, topic: str, event_type: str, data: dict[str, Any], key: str,
               source: str = "/finance/150000") -> None:
    await publish(f"{ns}.{topic}", [(key.encode(), cloudevent(event_type, data, source=source))])


def budget(entity: str, year: int, amount: str, revision: int = 0) -> dict[str, Any]:
    return {"budget_id": new_id("B"), "revision": revision, "fiscal_entity_code": entity,
            "fund": FUND, "year": year, "amount_per_month": amount,
            "document_no": f"内财社〔{year}〕9号"}


def appropriation(entity: str, period: str, amount: str) -> dict[str, Any]:
    return {"appropriation_id": new_id("A"), "fiscal_entity_code": entity, "fund": FUND,
            "period": period, "amount_due": amount, "due_on": f"{period}-28",
            "document_no": "包财社〔2100〕1号"}


async def check(ns: str, as_of: str) -> None:
    await send(ns, "ops.commands", "ops.deadline_check.requested.v1",
               {"command_id": new_id("C"), "as_of": as_of}, "fund_transfer", "/ops/cli")


async def obligations(ns: str, entity: str, year: int, count: int) -> list[dict[str, Any]]:
    """The first `count` budget events of an entity and year, validated against their models."""
    def ours(records: list[Any]) -> list[dict[str, Any]]:
        return [r.event for r in records if r.event["type"].startswith(
            ("transfer.budget.", "transfer.appropriation.missing",
             "transfer.appropriation.below_budget"))
            and r.event["data"].get("fiscal_entity_code") == entity
            and (str(r.event["data"].get("year")) == str(year)
                 or str(r.event["data"].get("period", "")).startswith(str(year)))]

    found = ours(await read_topic(f"{ns}.transfer.obligations",
                                  until=lambda r: len(ours(r)) >= count, timeout_s=30))
    for event in found:
        event_models()[event["type"]].model_validate(event["data"])
    return found


async def test_a_budget_revision_replaces_the_one_in_force_and_a_stale_one_is_refused(
    ns: str,
) -> None:
    year = next(_YEARS)
    first, second = budget("150300", year, "100.00"), budget("150300", year, "120.00", 1)
    stale = budget("150300", year, "90.00", 1)
    for data in (first, second, stale):
        await send(ns, finance.TOPIC_BUDGETS, finance.BUDGETED, data, "150300")
    await send(ns, finance.TOPIC_BUDGETS, finance.BUDGETED, budget("150000", year, "1.00"),
               "150000")
    recorded = [e for e in await obligations(ns, "150300", year, 2)
                if e["type"] == transfer.BUDGET_RECORDED]
    assert [(e["data"]["revision"], e["data"]["replaces_revision"]) for e in recorded] == [
        (0, None), (1, 0)]
    rejections = [r.event for r in await read_topic(
        f"{ns}.transfer.obligations", timeout_s=30,
        until=lambda rs: sum(r.event["type"] == transfer.BUDGET_REJECTED for r in rs) >= 2)
        if r.event["type"] == transfer.BUDGET_REJECTED]
    codes = {e["data"]["budget_id"]: [r["code"] for r in e["data"]["reasons"]]
             for e in rejections}
    assert codes[stale["budget_id"]] == ["REVISION_STALE"]
    assert ["ENTITY_UNKNOWN"] in codes.values()


async def test_missing_and_below_budget_months_are_reported_once_per_check_date(
    ns: str,
) -> None:
    year = next(_YEARS)
    await send(ns, finance.TOPIC_BUDGETS, finance.BUDGETED, budget("150200", year, "100.00"),
               "150200")
    for period, amount in ((f"{year}-01", "100.00"), (f"{year}-02", "60.00")):
        await send(ns, finance.TOPIC_APPROPRIATIONS, finance.APPROPRIATED,
                   appropriation("150200", period, amount), "150200")
    await obligations(ns, "150200", year, 1)  # the budget is recorded
    await check(ns, f"{year}-04-01")
    await check(ns, f"{year}-04-01")  # the same date again: nothing new
    await check(ns, f"{year}-04-02")  # the next day: the same gaps again
    events = await obligations(ns, "150200", year, 5)
    gaps = [(e["type"].rsplit(".", 2)[-2], e["data"]["period"], e["data"]["amount_short"],
             e["data"]["as_of"]) for e in events if e["type"] != transfer.BUDGET_RECORDED]
    assert gaps == [
        ("below_budget", f"{year}-02", "40.00", f"{year}-04-01"),
        ("missing", f"{year}-03", "100.00", f"{year}-04-01"),
        ("below_budget", f"{year}-02", "40.00", f"{year}-04-02"),
        ("missing", f"{year}-03", "100.00", f"{year}-04-02"),
    ]
    missing = next(e["data"] for e in events if e["type"] == transfer.APPROPRIATION_MISSING)
    assert (missing["due_on"], missing["days_late"], missing["amount_appropriated"]) == (
        f"{year}-03-31", 1, "0.00")
    assert missing["rule_version"] == "ft-deadlines-2025.1"


async def test_an_appropriation_made_up_to_the_budget_is_no_longer_reported(ns: str) -> None:
    year = next(_YEARS)
    await send(ns, finance.TOPIC_BUDGETS, finance.BUDGETED, budget("150400", year, "50.00"),
               "150400")
    await send(ns, finance.TOPIC_APPROPRIATIONS, finance.APPROPRIATED,
               appropriation("150400", f"{year}-01", "30.00"), "150400")
    await check(ns, f"{year}-02-02")
    await send(ns, finance.TOPIC_APPROPRIATIONS, finance.APPROPRIATED,
               appropriation("150400", f"{year}-01", "20.00"), "150400")
    await check(ns, f"{year}-02-03")
    await check(ns, f"{year}-03-02")  # February is past due now: missing; January is made up
    events = await obligations(ns, "150400", year, 3)
    assert [(e["type"].rsplit(".", 2)[-2], e["data"]["period"], e["data"]["as_of"])
            for e in events if e["type"] != transfer.BUDGET_RECORDED] == [
        ("below_budget", f"{year}-01", f"{year}-02-02"),
        ("missing", f"{year}-02", f"{year}-03-02"),
    ]
