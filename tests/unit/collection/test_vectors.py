"""DOMAIN.md's worked figures come out exactly: line amounts, totals, due dates and late fees."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.collection.domain import OverdueRow, overdue_data, settle
from services.collection.rules import load_rules
from services.collection.validation import check_declaration, checked_fen, share_fen
from shared.money import amount_for_rate, format_yuan, parse_yuan
from tests.unit.collection import factory

RULES = load_rules("production")


def line(base: str, employer: str, employee: str) -> dict[str, object]:
    return factory.line(1, base, employer_amount=employer, employee_amount=employee)


@pytest.mark.parametrize(
    ("base", "employer", "employee"),
    [("4907.00", "785.12", "392.56"), ("6000.00", "960.00", "480.00"),
     ("24537.00", "3925.92", "1962.96")],
)
def test_enterprise_basic_worked_lines_of_2025_are_accepted(
    base: str, employer: str, employee: str
) -> None:
    data = factory.declaration(lines=[line(base, employer, employee)])
    check = check_declaration(data, data["declaration_id"], RULES)
    assert check.reasons == []
    assert check.declaration is not None
    figures = check.declaration.figures
    assert (figures.employer_total_fen, figures.employee_total_fen) == (
        parse_yuan(employer), parse_yuan(employee))


def test_occupational_annuity_on_the_floor_is_392_56_and_196_28() -> None:
    data = factory.declaration(scheme="occupational_annuity",
                               lines=[line("4907.00", "392.56", "196.28")])
    check = check_declaration(data, data["declaration_id"], RULES)
    assert check.reasons == []
    assert check.declaration is not None
    assert check.declaration.figures.amount_due_fen == 58_884


def test_a_treasury_funded_annuity_owes_only_the_employee_share() -> None:
    data = factory.declaration(scheme="occupational_annuity", unit_funding="treasury_full",
                               lines=[line("4907.00", "392.56", "196.28")])
    check = check_declaration(data, data["declaration_id"], RULES)
    assert check.declaration is not None
    figures = check.declaration.figures
    assert (figures.employer_total_fen, figures.amount_due_fen) == (39_256, 19_628)


def test_totals_are_sums_of_lines_and_the_due_date_is_the_20th() -> None:
    data = factory.declaration(bases=("4907.00", "6000.00", "24537.00"))
    check = check_declaration(data, data["declaration_id"], RULES)
    assert check.declaration is not None
    figures = check.declaration.figures
    assert figures.base_total_fen == 3_544_400
    assert (figures.employer_total_fen, figures.employee_total_fen) == (567_104, 283_552)
    assert figures.amount_due_fen == 850_656
    assert figures.due_on == dt.date(2025, 3, 20)
    assert figures.fiscal_entity_code == "150100"
    assert figures.rule_version == "prod-2025.1"


def test_ten_thousand_yuan_paid_21_days_late_owes_105_yuan() -> None:
    settlement = settle(amount_due_fen=1_000_000, paid_before_fen=0, amount_fen=1_000_000,
                        paid_on=dt.date(2025, 4, 10), due_on=dt.date(2025, 3, 20))
    assert settlement.days_late == 21
    assert settlement.late_fee_fen == 10_500
    assert settlement.status == "paid"


def test_paying_on_the_due_date_is_on_time() -> None:
    settlement = settle(amount_due_fen=100_000, paid_before_fen=0, amount_fen=100_000,
                        paid_on=dt.date(2025, 3, 20), due_on=dt.date(2025, 3, 20))
    assert (settlement.days_late, settlement.late_fee_fen) == (0, 0)


def test_each_payment_owes_a_fee_only_on_what_it_covered_of_the_outstanding_amount() -> None:
    first = settle(amount_due_fen=1_000_000, paid_before_fen=0, amount_fen=400_000,
                   paid_on=dt.date(2025, 3, 25), due_on=dt.date(2025, 3, 20))
    second = settle(amount_due_fen=1_000_000, paid_before_fen=400_000, amount_fen=900_000,
                    paid_on=dt.date(2025, 4, 10), due_on=dt.date(2025, 3, 20))
    assert (first.covered_fen, first.late_fee_fen, first.status) == (400_000, 1_000, "underpaid")
    assert first.amount_outstanding_fen == 600_000
    # 600,000 fen covered x 0.0005 x 21 days = 6,300 fen; the other 3,000.00 is an overpayment.
    assert (second.covered_fen, second.late_fee_fen, second.status) == (600_000, 6_300, "overpaid")
    assert (second.amount_paid_total_fen, second.amount_outstanding_fen) == (1_300_000, 0)


def test_a_fee_is_rounded_half_up_to_the_fen() -> None:
    # 1.00 yuan x 0.0005 x 1 day = 0.05 fen -> 0; 10.00 x 0.0005 x 1 = 0.5 fen -> 1 fen.
    assert settle(amount_due_fen=100, paid_before_fen=0, amount_fen=100,
                  paid_on=dt.date(2025, 3, 21), due_on=dt.date(2025, 3, 20)).late_fee_fen == 0
    assert settle(amount_due_fen=1_000, paid_before_fen=0, amount_fen=1_000,
                  paid_on=dt.date(2025, 3, 21), due_on=dt.date(2025, 3, 20)).late_fee_fen == 1


def test_an_overdue_report_accrues_on_the_outstanding_amount_to_as_of() -> None:
    row = OverdueRow("D-1", 0, "91110000600037341L", "150100", "2025-03",
                     dt.date(2025, 3, 20), amount_due_fen=1_440_000, amount_paid_fen=440_000)
    data = overdue_data(row, dt.date(2025, 4, 10))
    assert (data["amount_outstanding"], data["days_late"]) == ("10000.00", 21)
    assert data["late_fee_accrued"] == "105.00"
    assert data["amount_due"] == "14400.00"


money = st.integers(min_value=0, max_value=10**14 - 1)


@given(money)
def test_the_fast_fen_conversion_agrees_with_the_wire_parser(amount_fen: int) -> None:
    text = format_yuan(amount_fen)
    assert checked_fen(text) == parse_yuan(text) == amount_fen


@given(st.integers(min_value=0, max_value=10**13), st.integers(min_value=0, max_value=10_000))
def test_the_fast_rate_share_agrees_with_the_shared_half_up_rounding(base: int, bp: int) -> None:
    assert share_fen(base, bp) == amount_for_rate(base, bp)
