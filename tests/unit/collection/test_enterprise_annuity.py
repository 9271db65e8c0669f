"""Enterprise annuity filings: every cap and the back-fill rule give their own reason code, the
plan year's caps add up the employer's current filings, and revisions replace what they revise."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.collection.domain.enterprise_annuity import CurrentFiling, EnterpriseBook, Totals
from services.collection.rules import load_rules
from services.collection.validation.enterprise_annuity import check_enterprise_annuity
from tests.unit.collection import factory

RULES = load_rules("production")


def check(data: dict[str, Any]) -> Any:
    return check_enterprise_annuity(data, str(data["declaration_id"]), RULES)


def codes(data: dict[str, Any]) -> set[tuple[str, int | None]]:
    return {(r["code"], r["line_no"]) for r in check(data).reasons}


def book(year: Totals | None = None, first_basic: dict[str, str] | None = None,
         current: dict[str, CurrentFiling] | None = None) -> EnterpriseBook:
    return EnterpriseBook(revisions={}, current=current or {},
                          year_totals={} if year is None else {("E", 2025): year},
                          first_basic_period=first_basic or {})


def play(filing_data: dict[str, Any], target: EnterpriseBook) -> dict[str, Any]:
    target.file(check(filing_data), b"h" * 32, 0, None)
    return target.emits[-1].data


def test_a_filing_within_every_cap_has_no_reason_and_registers() -> None:
    data = factory.enterprise_annuity(employer=("800.00", "800.00"), employee=("400.00", "0.00"))
    assert codes(data) == set()
    registered = play(data, book())
    assert registered["employer_total"] == "1600.00"
    assert registered["plan_year_payroll_total"] == "20000.00"
    assert registered["rule_version"] == "prod-2025.1"


def test_no_member_above_five_times_the_periods_average() -> None:
    # Average of (6000, 100 x 9) is 690.00; 6000.00 > 5 x 690.00 = 3450.00.
    data = factory.enterprise_annuity(employer=("6000.00", *("100.00",) * 9), payroll="100000.00")
    assert codes(data) == {("MEMBER_ALLOCATION_OVER_CAP", 1)}


def test_exactly_five_times_the_average_is_allowed() -> None:
    # Two members: 500.00 and 0.00: the average is 250.00; 500.00 <= 5 x 250.00.
    assert codes(factory.enterprise_annuity(employer=("500.00", "0.00"))) == set()


def test_the_employers_share_is_capped_at_8_percent_over_the_plan_year() -> None:
    earlier = Totals(payroll_fen=10_000_00, employer_fen=800_00, employee_fen=0)
    data = factory.enterprise_annuity(employer=("800.01",), payroll="10000.00",
                                      employer_uscc="91110000600037341L")
    target = book(year=None)
    target.year_totals[("91110000600037341L", 2025)] = earlier
    rejected = play(data, target)
    assert [r["code"] for r in rejected["reasons"]] == ["EMPLOYER_SHARE_OVER_CAP"]
    assert "1600.01 yuan" in rejected["reasons"][0]["message"]


def test_employer_and_employee_together_are_capped_at_12_percent() -> None:
    data = factory.enterprise_annuity(employer=("800.00",), employee=("400.01",),
                                      payroll="10000.00")
    rejected = play(data, book())
    assert [r["code"] for r in rejected["reasons"]] == ["TOTAL_SHARE_OVER_CAP"]


def test_a_revision_replaces_its_earlier_figures_in_the_plan_year() -> None:
    data = factory.enterprise_annuity(employer=("800.00",), payroll="10000.00",
                                      employer_uscc="91110000600037341L", revision=1)
    current = {data["declaration_id"]: CurrentFiling(
        0, "91110000600037341L", 2025, Totals(10_000_00, 800_00, 0))}
    target = book(current=current)
    target.year_totals[("91110000600037341L", 2025)] = Totals(10_000_00, 800_00, 0)
    registered = play(data, target)
    assert registered["replaces_revision"] == 0
    assert registered["plan_year_employer_total"] == "800.00"


def test_a_revision_not_above_the_current_one_is_stale() -> None:
    data = factory.enterprise_annuity(revision=1)
    current = {data["declaration_id"]: CurrentFiling(2, data["employer_uscc"], 2025,
                                                     Totals(1, 0, 0))}
    rejected = play(data, book(current=current))
    assert [r["code"] for r in rejected["reasons"]] == ["REVISION_STALE"]


@pytest.mark.parametrize(("stated", "first_basic", "expected"), [
    (None, "2024-06", set()),
    (None, "2025-04", {("BACKFILL_BEFORE_ACCOUNT", 1)}),
    (None, None, {("BACKFILL_ACCOUNT_UNKNOWN", 1)}),
    ("2025-03-31", None, set()),
    ("2025-04-01", "2020-01", {("BACKFILL_BEFORE_ACCOUNT", 1)}),  # a stated date wins
])
def test_a_backfill_may_not_start_before_the_members_basic_pension_account(
    stated: str | None, first_basic: str | None, expected: set[tuple[str, int]],
) -> None:
    data = factory.enterprise_annuity(backfill=True)
    if stated is not None:
        data["lines"][0]["account_established_on"] = stated
    person = data["lines"][0]["person_id"]
    target = book(first_basic={person: first_basic} if first_basic else {})
    answer = play(data, target)
    found = {(r["code"], r["line_no"]) for r in answer.get("reasons", [])}
    assert found == expected


def test_a_period_before_the_caps_took_effect_is_not_configured() -> None:
    data = factory.enterprise_annuity(fee_period="2018-01", declared_on="2018-01-10")
    assert codes(data) == {("SCHEME_NOT_CONFIGURED", None)}


def test_malformed_fields_get_their_own_codes() -> None:
    data = factory.enterprise_annuity(payroll="0.00", region_code="110101")
    data["lines"][0]["person_id"] = "150102199001010018"
    data["lines"][0]["account_established_on"] = "2025-02-30"
    assert codes(data) == {("AMOUNT_INVALID", None), ("REGION_UNKNOWN", None),
                           ("DATE_INVALID", 1), ("PERSON_ID_INVALID", 1)}


def test_the_same_revision_with_other_content_conflicts_and_again_is_silent() -> None:
    data = factory.enterprise_annuity()
    target = book()
    target.file(check(data), b"a" * 32, 0, None)
    target.file(check(data), b"a" * 32, 1, None)
    target.file(check(data), b"b" * 32, 2, None)
    assert [e.event_type.rsplit(".", 2)[-2] for e in target.emits] == ["registered",
                                                                       "rejected"]
    assert target.emits[1].data["reasons"][0]["code"] == "CONFLICTING_DUPLICATE"
    assert dt.date.fromisoformat(target.emits[0].data["declared_on"]).year == 2025


def test_a_malformed_identity_number_is_one_reason_not_two() -> None:
    data = factory.enterprise_annuity()
    data["lines"][0]["person_id"] = "15010219900101001"  # 17 characters: the shape fails
    assert [r["code"] for r in check(data).reasons] == ["PERSON_ID_INVALID"]
