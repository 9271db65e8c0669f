"""Interest: the top-up (补息) before investment started, and the yearly notional interest.

Interest stays an exact Fraction of a fen until its one half-up rounding; splits are
largest-remainder, so parts always sum to their total.

Notional interest years are posted in order: year Y is refused while Y-1 is unposted and some
notional money was there to earn Y-1's interest (posting Y would leave Y-1's interest out of
its base). A member's interest of a posted year is round_half_up(balance before the year x the
year's rate); what a member missed of it (a credit of an earlier fee period that arrived after
the year was posted, or an earlier year posted after it) is credited later as an adjustment,
year by year, each year's adjustment counting in the next year's balance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from fractions import Fraction

from services.occupational_annuity.domain.terms import DAYS_PER_YEAR, topup_interval, year_pieces
from services.occupational_annuity.model import (
    AdjustmentCause,
    Credit,
    EntityPosting,
    Entry,
    MemberLedger,
    NotionalAdjustment,
    NotionalBalance,
    NotionalPosting,
    Rate,
    Rules,
    TopupAssessment,
    TopupBlocked,
    TopupFunding,
    TopupMember,
    TopupRound,
)
from shared.ids import topup_assessment_id
from shared.money import round_half_up_div, split_fen


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


def assess_topups(
    pending: Mapping[tuple[str, str], Sequence[str]],
    principals: Mapping[tuple[str, str], Mapping[str, int]],
    sequences: Mapping[tuple[str, str], int],
    *,
    as_of: dt.date,
    rules: Rules,
) -> TopupRound:
    """Every (paying entity, fee period) with unassessed credits, in key order."""
    assessed: list[tuple[TopupAssessment, tuple[str, ...]]] = []
    not_applicable: list[str] = []
    blocked: list[TopupBlocked] = []
    for key in sorted(pending):
        outcome = assess_topup(key[0], key[1], sequence=sequences.get(key, 0),
                               principals=principals.get(key, {}), as_of=as_of, rules=rules)
        if isinstance(outcome, TopupBlocked):
            blocked.append(outcome)
        elif outcome is None:
            not_applicable.extend(pending[key])
        else:
            assessed.append((outcome, tuple(pending[key])))
    return TopupRound(tuple(assessed), tuple(not_applicable), tuple(blocked))


def is_funded_in_full(amount_settled_fen: int, total_fen: int) -> bool:
    return amount_settled_fen >= total_fen


def topup_entries(funding: TopupFunding, value_date: dt.date) -> list[Entry]:
    """A funded top-up booked to its members, from the day the money arrived; the members'
    interest adds up to the funded total (largest-remainder split at assessment)."""
    members_fen = sum(m.interest_fen for m in funding.members)
    if members_fen != funding.total_fen:
        raise AssertionError(f"top-up {funding.assessment_id} members do not sum to its total")
    return [
        Entry(m.person_id, "interest_topup", m.interest_fen, funding.fiscal_entity_code,
              funding.fee_period, value_date, "interest_topup", funding.assessment_id)
        for m in funding.members if m.interest_fen > 0
    ]


# ---- notional interest -------------------------------------------------------------------------


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


def notional_entries(postings: Iterable[NotionalPosting], year: int) -> list[Entry]:
    effective_on = notional_effective_on(year)
    return [Entry(p.person_id, "unit_notional", p.interest_fen, p.fiscal_entity_code, None,
                  effective_on, "notional_interest", str(year)) for p in postings]


def by_entity(postings: Iterable[NotionalPosting]) -> list[EntityPosting]:
    totals: dict[str, tuple[int, int]] = {}
    for posting in postings:
        count, total = totals.get(posting.fiscal_entity_code, (0, 0))
        totals[posting.fiscal_entity_code] = (count + 1, total + posting.interest_fen)
    return [EntityPosting(entity, count, total)
            for entity, (count, total) in sorted(totals.items())]


def unposted_year(year: int, posted: Collection[int], earliest_notional_on: dt.date | None
                  ) -> int | None:
    """The year before, when it is unposted and notional money was there to earn its interest
    (money effective before its 1 January); else None: the year may be posted."""
    previous = year - 1
    if previous in posted or earliest_notional_on is None:
        return None
    return previous if earliest_notional_on < notional_cutoff(previous) else None


def missed_interest(member: MemberLedger, posted: Mapping[int, Rate],
                    from_year: int) -> list[NotionalAdjustment]:
    """What the member misses of each posted year from `from_year` on, oldest first; an
    adjustment counts in the next year's balance. Interest already credited is never taken
    back (a year whose balance fell since it was posted gets nothing)."""
    entries = list(member.notional)
    credited = dict(member.interest_by_year)
    missed: list[NotionalAdjustment] = []
    for year in sorted(y for y in posted if y >= from_year):
        cutoff = notional_cutoff(year)
        balance_fen = sum(fen for effective_on, fen in entries if effective_on < cutoff)
        due_fen = notional_interest_fen(balance_fen, posted[year]) if balance_fen > 0 else 0
        lacking_fen = due_fen - credited.get(year, 0)
        if lacking_fen > 0:
            missed.append(NotionalAdjustment(member.person_id, member.fiscal_entity_code, year,
                                             balance_fen, lacking_fen))
            entries.append((notional_effective_on(year), lacking_fen))
            credited[year] = due_fen
    return missed


def late_credit_interest(credit: Credit, ledgers: dict[tuple[str, str], MemberLedger],
                         posted: Mapping[int, Rate]) -> list[NotionalAdjustment]:
    """A notional credit of a fee period before a posted year earns that year's interest now
    (money of a period counts for the years after it). `ledgers` (already holding the credit)
    are updated, so a second credit of the same member in the batch adds only its own."""
    from_year = int(credit.declaration.fee_period[:4]) + 1
    missed: list[NotionalAdjustment] = []
    for member in credit.members:
        if member.unit_notional_fen == 0:
            continue
        key = (member.person_id, credit.declaration.fiscal_entity_code)
        adjustments = missed_interest(ledgers[key], posted, from_year)
        ledgers[key] = with_adjustments(ledgers[key], adjustments)
        missed += adjustments
    return missed


def with_adjustments(member: MemberLedger,
                     adjustments: Iterable[NotionalAdjustment]) -> MemberLedger:
    """The member's ledger once the adjustments are credited."""
    added = [a for a in adjustments
             if (a.person_id, a.fiscal_entity_code) == (member.person_id,
                                                        member.fiscal_entity_code)]
    credited = dict(member.interest_by_year)
    for a in added:
        credited[a.year] = credited.get(a.year, 0) + a.interest_fen
    notional = (*member.notional, *((notional_effective_on(a.year), a.interest_fen)
                                    for a in added))
    return replace(member, notional=notional, interest_by_year=tuple(sorted(credited.items())))


def adjustment_entries(adjustments: Iterable[NotionalAdjustment], cause: AdjustmentCause,
                       cause_id: str) -> list[Entry]:
    """Credited to unit_notional as of the adjusted year's end, like the year's posting."""
    return [Entry(a.person_id, "unit_notional", a.interest_fen, a.fiscal_entity_code, None,
                  notional_effective_on(a.year), "notional_adjustment",
                  f"{a.year}/{cause}/{cause_id}")
            for a in adjustments]
