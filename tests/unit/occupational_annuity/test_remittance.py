"""Remittances start on the request day, are numbered per (entity, period), never from 150000."""

from __future__ import annotations

import datetime as dt

from services.occupational_annuity import domain
from services.occupational_annuity.model import PeriodPosition, RemittancePlan
from shared.ids import remittance_id
from tests.unit.occupational_annuity.support import LOCAL


def position(collected: int, requested: int = 0, count: int = 0, entity: str = "150200",
             period: str = "2025-03") -> PeriodPosition:
    return PeriodPosition(entity, period, collected, requested, count)


def test_nothing_is_requested_before_the_5th_of_the_month_after_the_period() -> None:
    assert domain.plan_remittances([position(100_000)], dt.date(2025, 4, 4), LOCAL) == []


def test_the_first_remittance_on_the_request_day_is_sequence_0_due_on_the_15th() -> None:
    plans = domain.plan_remittances([position(100_000)], dt.date(2025, 4, 5), LOCAL)
    assert plans == [RemittancePlan(remittance_id("150200", "2025-03", 0), "150200", "2025-03", 0,
                                    100_000, dt.date(2025, 4, 5), dt.date(2025, 4, 15))]


def test_later_credits_go_in_a_supplementary_remittance_of_only_the_difference() -> None:
    plans = domain.plan_remittances([position(150_000, 100_000, 1)], dt.date(2025, 5, 2), LOCAL)
    assert [(p.remittance_id, p.sequence, p.amount_fen, p.due_on) for p in plans] == [
        (remittance_id("150200", "2025-03", 1), 1, 50_000, dt.date(2025, 4, 15))]


def test_fully_requested_periods_and_the_region_itself_remit_nothing() -> None:
    positions = [position(100_000, 100_000, 1), position(100_000, entity="150000")]
    assert domain.plan_remittances(positions, dt.date(2025, 12, 31), LOCAL) == []


def test_december_periods_are_requested_in_january_of_the_next_year() -> None:
    assert domain.remittance_request_on("2024-12", LOCAL) == dt.date(2025, 1, 5)
    assert domain.remittance_due_on("2024-12", LOCAL) == dt.date(2025, 1, 15)


def test_plans_come_in_entity_then_period_order() -> None:
    positions = [position(1, period="2025-02"), position(1, entity="150100"), position(1)]
    plans = domain.plan_remittances(positions, dt.date(2025, 6, 1), LOCAL)
    assert [(p.fiscal_entity_code, p.fee_period) for p in plans] == [
        ("150100", "2025-03"), ("150200", "2025-02"), ("150200", "2025-03")]


def test_the_due_day_is_on_time_and_the_day_after_is_past_due() -> None:
    due_on = dt.date(2025, 4, 15)
    assert domain.is_on_time(due_on, due_on)
    assert not domain.is_on_time(due_on + dt.timedelta(days=1), due_on)
    assert not domain.is_past_due(due_on, due_on)
    assert domain.is_past_due(due_on, due_on + dt.timedelta(days=1))
