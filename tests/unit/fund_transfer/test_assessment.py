"""fund_transfer's part of the assessment (考核): in full and on time as of the command's date,
the days an obligation stayed open past its due date, and budgeted months missing or short."""

from __future__ import annotations

import datetime as dt

from services.fund_transfer.domain.assessment import entity_data
from services.fund_transfer.model import Budget, ObligationState
from shared.contracts.assessment import AssessmentCommand, TransferAssessed
from tests.unit.fund_transfer.support import RULES

PERIOD = "2025-03"  # appropriations due by the last day of the month (rule data)
BASIC = "enterprise_basic_pension"
INSTITUTION = "institution_basic_pension"


def obligation(fund: str, due_fen: int, settled_fen: int,
               fulfilled_on: dt.date | None) -> ObligationState:
    return ObligationState("150200", fund, due_fen, settled_fen, dt.date(2025, 3, 28),
                           fulfilled_on)


def budget(fund: str, per_month_fen: int) -> Budget:
    return Budget("B-1", 0, "150200", fund, 2025, per_month_fen, "内财社〔2025〕3号")


def assess(obligations: list[ObligationState], budgets: dict[str, Budget],
           as_of: dt.date) -> dict[str, object]:
    data = entity_data("150200", obligations, budgets,
                       AssessmentCommand("A-1", PERIOD, as_of), RULES)
    TransferAssessed.model_validate(data)
    return data


def test_fulfilled_after_the_assessment_date_is_not_in_full_yet() -> None:
    late = obligation(BASIC, 100_00, 100_00, dt.date(2025, 4, 10))
    before = assess([late], {}, dt.date(2025, 4, 5))
    after = assess([late], {}, dt.date(2025, 4, 20))
    assert (before["forwarded_in_full"], before["shortfall_days_open"]) == (0, 8)
    assert (after["forwarded_in_full"], after["forwarded_on_time"]) == (1, 0)
    assert after["shortfall_days_open"] == 13  # 03-28 to 04-10, not to the assessment date


def test_shares_are_basis_points_rounded_down_and_short_money_sums() -> None:
    on_time = [obligation(BASIC, 100_00, 100_00, dt.date(2025, 3, 20)) for _ in range(2)]
    short = obligation(INSTITUTION, 50_00, 30_00, None)
    data = assess([*on_time, short], {}, dt.date(2025, 4, 1))
    assert (data["obligations"], data["forwarded_on_time"], data["share_forwarded_on_time_bp"]) \
        == (3, 2, 6666)
    assert (data["amount_due"], data["amount_settled"], data["amount_short"]) == (
        "250.00", "230.00", "20.00")


def test_budgeted_months_missing_or_below_budget_count_once_past_the_due_date() -> None:
    budgets = {BASIC: budget(BASIC, 100_00), INSTITUTION: budget(INSTITUTION, 80_00)}
    below = [obligation(BASIC, 60_00, 60_00, dt.date(2025, 3, 20))]
    assert assess(below, budgets, dt.date(2025, 3, 31))["appropriations_missing"] == 0  # not due
    data = assess(below, budgets, dt.date(2025, 4, 1))
    assert (data["appropriations_missing"], data["appropriations_below_budget"]) == (1, 1)


def test_an_entity_with_nothing_is_assessed_with_zeros() -> None:
    data = assess([], {}, dt.date(2025, 4, 1))
    assert (data["obligations"], data["share_forwarded_on_time_bp"], data["amount_due"]) == (
        0, 0, "0.00")
