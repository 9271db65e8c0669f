"""The interest top-up (补息) follows DOMAIN.md's default rule to the fen on hand-computed cases."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from services.occupational_annuity import domain
from services.occupational_annuity.model import TopupAssessment, TopupBlocked
from shared.ids import topup_assessment_id
from tests.unit.occupational_annuity.support import ALICE, BOB, CAROL, DAVE, LOCAL, PRODUCTION

AS_OF = dt.date(2025, 6, 6)


def assess(period: str, principals: dict[str, int], sequence: int = 0) -> TopupAssessment:
    outcome = domain.assess_topup("150200", period, sequence=sequence, principals=principals,
                                  as_of=AS_OF, rules=LOCAL)
    assert isinstance(outcome, TopupAssessment)
    return outcome


def test_interval_runs_from_the_month_after_the_period_to_the_investment_start() -> None:
    assert domain.topup_interval("2019-11", LOCAL) == (dt.date(2019, 12, 1), dt.date(2020, 4, 1))
    assert domain.topup_interval("2020-02", LOCAL) == (dt.date(2020, 3, 1), dt.date(2020, 4, 1))


def test_periods_from_march_2020_on_have_an_empty_interval_and_are_never_assessed() -> None:
    assert domain.topup_interval("2020-03", LOCAL) is None
    assert domain.assess_topup("150200", "2020-03", sequence=0, principals={ALICE: 100_000},
                               as_of=AS_OF, rules=LOCAL) is None


def test_a_period_straddling_new_year_splits_at_1_january_with_each_years_rate() -> None:
    # 2019-11: 31 days of 2019 at 4.20% + 91 days of 2020 (leap Feb) at 4.00%, on 1,000.00:
    # 100000 x (0.042 x 31 + 0.040 x 91) / 365 = 494200 / 365 = 1353.97 fen -> 13.54
    assert domain.year_pieces(dt.date(2019, 12, 1), dt.date(2020, 4, 1)) == [(2019, 31), (2020, 91)]
    assessment = assess("2019-11", {ALICE: 100_000})
    assert assessment.total_fen == 1354
    assert assessment.members[0].interest_fen == 1354


def test_a_leap_year_still_divides_by_365() -> None:
    # 2015-12: 2016 has 366 days, each earns 1/365 of a year (ACT/365):
    # 10000 x (0.048x366 + 0.046x365 + 0.044x365 + 0.042x365 + 0.040x91) / 365 = 1901.04 fen
    pieces = domain.year_pieces(dt.date(2016, 1, 1), dt.date(2020, 4, 1))
    assert pieces == [(2016, 366), (2017, 365), (2018, 365), (2019, 365), (2020, 91)]
    exact = domain.exact_interest(10_000, pieces, LOCAL.notional_rates)
    assert exact == Fraction(693_880, 365)
    assert assess("2015-12", {ALICE: 10_000}).total_fen == 1901


def test_a_member_with_several_credits_earns_on_their_sum() -> None:
    # 392.56 + 196.28 from one declaration and 100.00 from another in 2019-12: 688.84 for 91 days
    # at 4.00%: 68884 x 0.04 x 91 / 365 = 686.95 fen -> 6.87
    assessment = assess("2019-12", {ALICE: 39_256 + 19_628 + 10_000})
    assert assessment.members[0].principal_fen == 68_884
    assert assessment.total_fen == 687


def test_the_total_rounds_the_exact_sum_and_a_remainder_tie_goes_to_the_lower_person_id() -> None:
    # Three equal members: 997.26 fen each, exact sum 2991.78 -> total 2992; one fen left over,
    # equal remainders, so the lowest person_id gets it, whatever order they came in.
    assessment = assess("2019-12", {DAVE: 100_000, ALICE: 100_000, CAROL: 100_000})
    assert assessment.total_fen == 2992
    assert [(m.person_id, m.interest_fen) for m in assessment.members] == [
        (ALICE, 998), (CAROL, 997), (DAVE, 997)]


def test_the_largest_remainder_gets_the_leftover_fen() -> None:
    # 997.26 + 498.63 = 1495.89 -> 1496: floors 997 + 498, the 0.63 remainder wins the fen.
    assessment = assess("2019-12", {ALICE: 100_000, BOB: 50_000})
    assert [m.interest_fen for m in assessment.members] == [997, 499]


def test_an_assessment_names_its_deterministic_id_and_funding_due_day() -> None:
    assessment = assess("2019-12", {ALICE: 100_000}, sequence=2)
    assert assessment.assessment_id == topup_assessment_id("150200", "2019-12", 2)
    assert assessment.funding_due_on == AS_OF + dt.timedelta(days=30)
    assert (assessment.interest_from, assessment.interest_to) == (
        dt.date(2020, 1, 1), dt.date(2020, 4, 1))


def test_a_year_without_a_rate_blocks_the_assessment_and_names_the_years() -> None:
    outcome = domain.assess_topup("150200", "2019-11", sequence=0, principals={ALICE: 1},
                                  as_of=AS_OF, rules=PRODUCTION)
    assert outcome == TopupBlocked("150200", "2019-11", (2019, 2020))


def test_members_without_funded_principal_are_not_assessed() -> None:
    assert domain.assess_topup("150200", "2019-12", sequence=0, principals={ALICE: 0},
                               as_of=AS_OF, rules=LOCAL) is None


def test_a_total_that_rounds_to_nothing_gives_every_member_zero() -> None:
    assessment = assess("2020-02", {ALICE: 1, BOB: 1})  # 1 fen x 4% x 31/365 each
    assert assessment.total_fen == 0
    assert [m.interest_fen for m in assessment.members] == [0, 0]


PERIODS = [f"{y}-{m:02d}" for y in range(2014, 2021) for m in range(1, 13)
           if "2014-10" <= f"{y}-{m:02d}" <= "2020-02"]
PERSON = st.from_regex(r"\A[0-9]{17}[0-9X]\Z")


@given(
    period=st.sampled_from(PERIODS),
    principals=st.dictionaries(PERSON, st.integers(0, 10**11), min_size=1, max_size=30),
)
def test_member_amounts_always_sum_to_the_total_and_stay_within_a_fen(
    period: str, principals: dict[str, int]
) -> None:
    outcome = domain.assess_topup("150300", period, sequence=0, principals=principals,
                                  as_of=AS_OF, rules=LOCAL)
    if not any(principals.values()):
        assert outcome is None
        return
    assert isinstance(outcome, TopupAssessment)
    assert sum(m.interest_fen for m in outcome.members) == outcome.total_fen
    pieces = domain.year_pieces(outcome.interest_from, outcome.interest_to)
    exact = {p: domain.exact_interest(f, pieces, LOCAL.notional_rates)
             for p, f in principals.items() if f > 0}
    assert outcome.total_fen == domain.round_fraction_half_up(sum(exact.values(), Fraction(0)))
    assert [m.person_id for m in outcome.members] == sorted(exact)
    for member in outcome.members:
        share = outcome.total_fen * exact[member.person_id] / sum(exact.values())
        assert share - 1 < member.interest_fen < share + 1
