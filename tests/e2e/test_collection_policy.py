"""collection on the real broker and database serves two more clauses of the policy: enterprise
annuity filings checked against their caps and the back-fill rule (二(四)11), and occupational
annuity bases compared with the basic pension (二(四)13), findings opening and resolving as the
two declarations arrive in either order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.collection import app
from shared.contracts.collection import EVENT_MODELS
from shared.contracts.tax import DECLARED
from tests.e2e.test_collection import Stack
from tests.support import cloudevent, create_namespace, publish, service_running
from tests.unit.collection import factory

pytestmark = pytest.mark.usefixtures("stack_env")
FILED = "tax.enterprise_annuity.declared.v1"


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    namespace = await create_namespace()
    async with service_running(app.spec(), namespace):
        yield Stack(namespace)


async def file(stack: Stack, data: dict[str, Any]) -> dict[str, Any]:
    await publish(stack.topic("tax.contribution.declarations"),
                  [(data["employer_uscc"].encode(), cloudevent(FILED, data))])
    [answer] = await stack.of_declaration(data["declaration_id"], 1)
    EVENT_MODELS[answer["type"]].model_validate(answer["data"])
    return answer


def codes(answer: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [(r["code"], r["line_no"]) for r in answer["data"].get("reasons", [])]


async def test_a_filing_within_its_caps_registers_with_the_plan_years_figures(
    stack: Stack,
) -> None:
    answer = await file(stack, factory.enterprise_annuity(
        employer=("800.00", "400.00"), employee=("400.00", "200.00"), payroll="20000.00"))
    assert answer["type"] == "collection.enterprise_annuity.registered.v1"
    assert (answer["data"]["employer_total"], answer["data"]["plan_year_payroll_total"]) == (
        "1200.00", "20000.00")


async def test_the_plan_years_employer_cap_counts_the_employers_earlier_filings(
    stack: Stack,
) -> None:
    employer = factory.uscc()
    first = await file(stack, factory.enterprise_annuity(
        employer=("800.00",), payroll="10000.00", employer_uscc=employer))
    over = await file(stack, factory.enterprise_annuity(
        employer=("800.02",), payroll="10000.00", employer_uscc=employer, fee_period="2025-02",
        declared_on="2025-02-10"))
    assert first["type"].endswith("registered.v1")
    assert codes(over) == [("EMPLOYER_SHARE_OVER_CAP", None)]
    assert "1600.02 yuan" in over["data"]["reasons"][0]["message"]


async def test_one_member_above_five_times_the_average_and_the_combined_cap(stack: Stack) -> None:
    answer = await file(stack, factory.enterprise_annuity(
        employer=("6000.00", *("100.00",) * 9), employee=("9000.00", *("0.00",) * 9),
        payroll="100000.00"))
    assert sorted(codes(answer), key=str) == [("MEMBER_ALLOCATION_OVER_CAP", 1),
                                              ("TOTAL_SHARE_OVER_CAP", None)]


async def test_a_backfill_before_the_members_basic_pension_account_is_refused(
    stack: Stack,
) -> None:
    basic = factory.declaration(scheme="institution_basic", fee_period="2025-03")
    await stack.declare(basic)
    await stack.of_declaration(basic["declaration_id"], 1)
    person = basic["lines"][0]["person_id"]
    early = factory.enterprise_annuity(backfill=True, fee_period="2024-06")
    early["lines"][0]["person_id"] = person
    late = factory.enterprise_annuity(backfill=True, fee_period="2025-03")
    late["lines"][0]["person_id"] = person
    stated = factory.enterprise_annuity(backfill=True, fee_period="2024-06")
    stated["lines"][0]["account_established_on"] = "2024-01-15"
    assert codes(await file(stack, early)) == [("BACKFILL_BEFORE_ACCOUNT", 1)]
    assert (await file(stack, late))["type"].endswith("registered.v1")
    assert (await file(stack, stated))["type"].endswith("registered.v1")


async def findings_of(stack: Stack, person: str, count: int) -> list[dict[str, Any]]:
    return await stack.outcomes(lambda e: e["data"].get("person_id") == person
                                and e["type"].startswith("collection.annuity_base."), count)


async def test_an_annuity_base_finding_opens_first_and_resolves_when_the_bases_agree(
    stack: Stack,
) -> None:
    employer = factory.uscc()
    annuity = factory.declaration(scheme="occupational_annuity", employer_uscc=employer,
                                  bases=("6000.00",))
    person = annuity["lines"][0]["person_id"]
    await stack.declare(annuity)
    [missing] = await findings_of(stack, person, 1)
    basic = factory.declaration(scheme="institution_basic", employer_uscc=employer,
                                bases=("5500.00",))
    basic["lines"][0]["person_id"] = person
    await stack.declare(basic)
    _, mismatch = await findings_of(stack, person, 2)
    revised = factory.declaration(scheme="institution_basic", employer_uscc=employer,
                                  bases=("6000.00",), declaration_id=basic["declaration_id"],
                                  revision=1)
    revised["lines"][0]["person_id"] = person
    await stack.declare(revised)
    *_, resolved = await findings_of(stack, person, 3)
    assert [e["data"].get("kind") for e in (missing, mismatch)] == [
        "BASIC_PENSION_MISSING", "BASE_MISMATCH"]
    assert (mismatch["data"]["annuity_base"], mismatch["data"]["basic_base"]) == (
        "6000.00", "5500.00")
    assert resolved["type"] == "collection.annuity_base.resolved.v1"
    assert resolved["data"]["base"] == "6000.00"
    assert len({e["data"]["finding_id"] for e in (missing, mismatch, resolved)}) == 1


async def test_a_basic_pension_line_first_then_an_equal_annuity_base_gives_no_finding(
    stack: Stack,
) -> None:
    employer = factory.uscc()
    basic = factory.declaration(scheme="institution_basic", employer_uscc=employer)
    annuity = factory.declaration(scheme="occupational_annuity", employer_uscc=employer)
    annuity["lines"][0]["person_id"] = person = basic["lines"][0]["person_id"]
    await stack.declare(basic)
    await stack.declare(annuity)
    await stack.of_declaration(annuity["declaration_id"], 1)
    # A control declaration whose finding must come after: proves the service got that far.
    control = factory.declaration(scheme="occupational_annuity", employer_uscc=employer,
                                  fee_period="2025-02", declared_on="2025-02-10")
    await stack.declare(control)
    await findings_of(stack, control["lines"][0]["person_id"], 1)
    everything = await stack.outcomes(lambda e: True, 1)
    assert not [e for e in everything if e["data"].get("person_id") == person
                and e["type"].startswith("collection.annuity_base.")]


async def test_in_one_batch_a_finding_opens_and_resolves_as_in_two() -> None:
    """An annuity declaration and then an equal basic-pension one, handled in one batch, give
    what two batches give: the finding, then its resolution, each after its registration (the
    batch was compared once, at its end, and published nothing; a replay differed)."""
    stack = Stack(await create_namespace())
    employer = factory.uscc()
    annuity = factory.declaration(scheme="occupational_annuity", employer_uscc=employer,
                                  bases=("6000.00",))
    basic = factory.declaration(scheme="institution_basic", employer_uscc=employer,
                                bases=("6000.00",))
    basic["lines"][0]["person_id"] = annuity["lines"][0]["person_id"]
    # Both (one key, one partition) before the service starts: they come in one batch.
    await publish(stack.topic("tax.contribution.declarations"),
                  [(employer.encode(), cloudevent(DECLARED, data)) for data in (annuity, basic)])
    async with service_running(app.spec(), stack.namespace):
        events = await stack.outcomes(lambda e: e["data"].get("employer_uscc") == employer, 4)
    assert [(e["type"].rsplit(".", 2)[-2], e["data"].get("declaration_id")) for e in events] == [
        ("registered", annuity["declaration_id"]), ("finding", None),
        ("registered", basic["declaration_id"]), ("resolved", None)]
    assert events[1]["data"]["kind"] == "BASIC_PENSION_MISSING"
