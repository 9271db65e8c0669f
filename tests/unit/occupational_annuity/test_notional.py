"""Notional interest of a year rounds half up per member and is grouped per fiscal entity."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from services.occupational_annuity import domain
from services.occupational_annuity.model import (
    MemberLedger,
    NotionalAdjustment,
    NotionalBalance,
    NotionalPosting,
    Rate,
)
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


POSTED = {year: LOCAL.notional_rates[year] for year in (2020, 2021)}


def ledger(*notional: tuple[dt.date, int], interest: tuple[tuple[int, int], ...] = ()
           ) -> MemberLedger:
    return MemberLedger(ALICE, "150500", dt.date(2019, 6, 1), notional, False, interest)


def test_a_year_waits_for_the_year_before_only_when_money_could_earn_in_it() -> None:
    assert domain.unposted_year(2021, {2019: RATE_2019}, dt.date(2019, 12, 1)) == 2020
    assert domain.unposted_year(2021, {2020: RATE_2019}, dt.date(2014, 10, 1)) is None
    assert domain.unposted_year(2020, {}, dt.date(2019, 12, 1)) is None  # 2019 earns nothing
    assert domain.unposted_year(2020, {}, dt.date(2018, 12, 1)) == 2019
    assert domain.unposted_year(2020, {}, None) is None


def test_a_late_credit_earns_each_posted_year_it_missed_compounded() -> None:
    # 400.00 of 2019-12 was posted 16.00 (2020) and 15.81 (2021); 200.00 of 2019-06 arrives.
    member = ledger((dt.date(2019, 12, 1), 40_000), (dt.date(2020, 12, 31), 1_600),
                    (dt.date(2021, 12, 31), 1_581), (dt.date(2019, 6, 1), 20_000),
                    interest=((2020, 1_600), (2021, 1_581)))
    missed = domain.missed_interest(member, POSTED, 2020)
    assert [(a.year, a.balance_fen, a.interest_fen) for a in missed] == [
        (2020, 60_000, 800), (2021, 62_400, 790)]
    entries = domain.adjustment_entries(missed, "late_credit", "D-9")
    assert [(e.effective_on, e.source_kind, e.source_id) for e in entries] == [
        (dt.date(2020, 12, 31), "notional_adjustment", "2020/late_credit/D-9"),
        (dt.date(2021, 12, 31), "notional_adjustment", "2021/late_credit/D-9")]
    assert domain.missed_interest(domain.with_adjustments(member, missed), POSTED, 2020) == []


def test_interest_already_credited_is_never_taken_back() -> None:
    # 2020 credited 16.00 where 100.00 earns 4.00: nothing for 2020, 2021 on what is there.
    member = ledger((dt.date(2019, 12, 1), 10_000), (dt.date(2020, 12, 31), 1_600),
                    interest=((2020, 1_600),))
    assert domain.missed_interest(member, POSTED, 2020) == [
        NotionalAdjustment(ALICE, "150500", 2021, 11_600, 441)]
