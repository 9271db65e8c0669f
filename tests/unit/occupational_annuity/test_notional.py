"""Notional interest of a year rounds half up per member and is grouped per fiscal entity."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from services.occupational_annuity import domain
from services.occupational_annuity.model import NotionalBalance, NotionalPosting, Rate
from tests.unit.occupational_annuity.support import ALICE, BOB, CAROL, LOCAL

RATE_2019 = LOCAL.notional_rates[2019]


def test_the_years_rate_is_the_configured_exact_decimal() -> None:
    assert Rate("0.0420", Fraction(42, 1000)) == RATE_2019


def test_interest_rounds_half_up_per_member() -> None:
    assert domain.notional_interest_fen(1_250, RATE_2019) == 53  # 52.5 fen -> 53
    assert domain.notional_interest_fen(12_345, RATE_2019) == 518  # 518.49 -> 518
    assert domain.notional_interest_fen(12_350, RATE_2019) == 519  # 518.7 -> 519


def test_postings_skip_members_whose_interest_rounds_to_nothing() -> None:
    postings = domain.post_notional([
        NotionalBalance(BOB, "150200", 1_250),
        NotionalBalance(ALICE, "150200", 11),  # 0.462 fen -> 0: nothing to post
        NotionalBalance(CAROL, "150100", 100_000),
    ], RATE_2019)
    assert postings == [
        NotionalPosting(CAROL, "150100", 100_000, 4_200),
        NotionalPosting(BOB, "150200", 1_250, 53),
    ]


def test_entity_totals_sum_the_rounded_member_amounts() -> None:
    postings = domain.post_notional([
        NotionalBalance(ALICE, "150200", 1_250), NotionalBalance(BOB, "150200", 1_250),
        NotionalBalance(CAROL, "150100", 100_000),
    ], RATE_2019)
    assert [(e.fiscal_entity_code, e.member_count, e.total_fen)
            for e in domain.by_entity(postings)] == [("150100", 1, 4_200), ("150200", 2, 106)]


def test_money_of_earlier_fee_periods_and_earlier_years_interest_counts_for_a_year() -> None:
    cutoff = domain.notional_cutoff(2020)
    assert domain.period_start("2019-12") < cutoff <= domain.period_start("2020-01")
    assert domain.notional_effective_on(2019) < cutoff <= domain.notional_effective_on(2020)
    assert cutoff == dt.date(2020, 1, 1)
