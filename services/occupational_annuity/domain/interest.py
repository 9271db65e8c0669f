"""Interest: the top-up (补息) before investment started, and the yearly notional interest.

Interest stays an exact Fraction of a fen until its one half-up rounding; splits are
largest-remainder, so parts always sum to their total.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from services.occupational_annuity.domain.terms import (
    DAYS_PER_YEAR,
    Rate,
    Rules,
    topup_interval,
    year_pieces,
)
from shared.ids import topup_assessment_id
from shared.money import round_half_up_div, split_fen


@dataclass(frozen=True, slots=True)
class TopupMember:
    person_id: str
    principal_fen: int
    interest_fen: int


@dataclass(frozen=True, slots=True)
class TopupAssessment:
    assessment_id: str
    sequence: int
    fiscal_entity_code: str
    fee_period: str
    interest_from: dt.date
    interest_to: dt.date
    total_fen: int
    members: tuple[TopupMember, ...]
    funding_due_on: dt.date
    rule_version: str


@dataclass(frozen=True, slots=True)
class TopupBlocked:
    """The interval needs a year with no configured rate: nothing is assessed until there is."""

    fiscal_entity_code: str
    fee_period: str
    missing_years: tuple[int, ...]


def missing_rate_years(pieces: Sequence[tuple[int, int]], rules: Rules) -> tuple[int, ...]:
    return tuple(year for year, _ in pieces if year not in rules.notional_rates)


def exact_interest(
    principal_fen: int, pieces: Sequence[tuple[int, int]], rates: Mapping[int, Rate]
) -> Fraction:
    """Simple interest in fen: sum over pieces of principal x rate(year) x days / 365."""
    return sum(
        (Fraction(principal_fen) * rates[year].value * days / DAYS_PER_YEAR
         for year, days in pieces),
        Fraction(0),
    )


def round_fraction_half_up(value: Fraction) -> int:
    return round_half_up_div(value.numerator, value.denominator)


def split_interest(exact: Sequence[Fraction]) -> tuple[int, list[int]]:
    """Total = the rounded sum of exact interests; parts = largest remainders of that total."""
    total_fen = round_fraction_half_up(sum(exact, Fraction(0)))
    if total_fen == 0:
        return 0, [0] * len(exact)
    return total_fen, split_fen(total_fen, list(exact))


def assess_topup(
    fiscal_entity_code: str,
    fee_period: str,
    *,
    sequence: int,
    principals: Mapping[str, int],
    as_of: dt.date,
    rules: Rules,
) -> TopupAssessment | TopupBlocked | None:
    """One (paying entity, fee period) assessment over the given members' unassessed principal.

    None when the period's interval is empty (from 2020-03 on by default) or nothing is funded.
    Members are sorted by person_id first, so a remainder tie goes to the lower person_id.
    """
    interval = topup_interval(fee_period, rules)
    people = sorted(person for person, fen in principals.items() if fen > 0)
    if interval is None or not people:
        return None
    pieces = year_pieces(*interval)
    missing = missing_rate_years(pieces, rules)
    if missing:
        return TopupBlocked(fiscal_entity_code, fee_period, missing)
    exact = [exact_interest(principals[p], pieces, rules.notional_rates) for p in people]
    total_fen, parts = split_interest(exact)
    members = tuple(TopupMember(p, principals[p], part)
                    for p, part in zip(people, parts, strict=True))
    return TopupAssessment(
        topup_assessment_id(fiscal_entity_code, fee_period, sequence), sequence,
        fiscal_entity_code, fee_period, interval[0], interval[1], total_fen, members,
        as_of + dt.timedelta(days=rules.topup_funding_days), rules.rule_version,
    )


def is_funded_in_full(amount_settled_fen: int, total_fen: int) -> bool:
    return amount_settled_fen >= total_fen


# ---- notional interest -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotionalBalance:
    """A member's unit_notional money at one entity that counts for a year's interest."""

    person_id: str
    fiscal_entity_code: str
    balance_fen: int


@dataclass(frozen=True, slots=True)
class NotionalPosting:
    person_id: str
    fiscal_entity_code: str
    balance_fen: int
    interest_fen: int


@dataclass(frozen=True, slots=True)
class EntityPosting:
    fiscal_entity_code: str
    member_count: int
    total_fen: int


def notional_cutoff(year: int) -> dt.date:
    """Money effective before this day (fee periods before the year) earns the year's interest."""
    return dt.date(year, 1, 1)


def notional_effective_on(year: int) -> dt.date:
    """A year's notional interest is credited at its end, so it counts from the next year on."""
    return dt.date(year, 12, 31)


def notional_interest_fen(balance_fen: int, rate: Rate) -> int:
    return round_fraction_half_up(Fraction(balance_fen) * rate.value)


def post_notional(balances: Iterable[NotionalBalance], rate: Rate) -> list[NotionalPosting]:
    """Per member, round half up; a member whose interest rounds to nothing gets no posting."""
    postings = [
        NotionalPosting(b.person_id, b.fiscal_entity_code, b.balance_fen,
                        notional_interest_fen(b.balance_fen, rate))
        for b in balances
        if b.balance_fen > 0
    ]
    return sorted((p for p in postings if p.interest_fen > 0),
                  key=lambda p: (p.fiscal_entity_code, p.person_id))


def by_entity(postings: Iterable[NotionalPosting]) -> list[EntityPosting]:
    totals: dict[str, tuple[int, int]] = {}
    for posting in postings:
        count, total = totals.get(posting.fiscal_entity_code, (0, 0))
        totals[posting.fiscal_entity_code] = (count + 1, total + posting.interest_fen)
    return [EntityPosting(entity, count, total)
            for entity, (count, total) in sorted(totals.items())]
