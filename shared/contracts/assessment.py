"""The assessment (考核) of leagues and cities, policy 二(一)1 and 二(二)4 (docs/contracts.md).

Operators (or a scheduler) ask with `ops.assessment.requested.v1` on `ops.commands`, keyed `all`;
each service answers with its part of the assessment of the period as of the command's date, on
its own topic, keyed by the fiscal entity code: collection and occupational_annuity one event per
fiscal entity with figures for the period, fund_transfer one for each of the 14 leagues/cities
(a league/city with no appropriation at all is exactly what the assessment must show). Every
figure comes from the events the service already has; `rule_version` names the rules the figures
used. Shares are basis points (integers: 9,512 is 95.12%), never fractions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Final

from pydantic import Field

from shared.contracts.fields import Code6, Contract, Date, EntityId, Money, Period

ASSESSMENT_REQUESTED: Final = "ops.assessment.requested.v1"
COLLECTION_ASSESSED: Final = "collection.assessment.computed.v1"
TRANSFER_ASSESSED: Final = "transfer.assessment.computed.v1"
ANNUITY_ASSESSED: Final = "annuity.assessment.computed.v1"

BASIS_POINTS_WHOLE: Final = 10_000
Count = Annotated[int, Field(ge=0)]
BasisPoints = Annotated[int, Field(ge=0, le=BASIS_POINTS_WHOLE)]


def share_bp(part: int, whole: int) -> int:
    """part / whole in basis points, rounded down (a share is never overstated); 0 of 0 is 0."""
    assert 0 <= part <= whole, (part, whole)
    return part * BASIS_POINTS_WHOLE // whole if whole else 0


class AssessmentRequested(Contract):
    """`ops.assessment.requested.v1`: assess every league/city for `period` as of `as_of`."""

    command_id: EntityId
    period: Period
    as_of: Date


@dataclass(frozen=True, slots=True)
class AssessmentCommand:
    """An accepted `ops.assessment.requested.v1`, as the services' handlers take it."""

    command_id: str
    period: str
    as_of: dt.date


class AssessmentHeader(Contract):
    """What every part of an assessment names; `assessment_id` is
    uuid5(NS, "assessment/{service}/{fiscal_entity_code}/{period}/{command_id}")."""

    assessment_id: EntityId
    command_id: EntityId
    fiscal_entity_code: Code6
    period: Period
    as_of: Date
    rule_version: str


class CollectionAssessed(AssessmentHeader):
    """`collection.assessment.computed.v1`: contributions of the fee period `period`.

    Declarations registered (current revisions), and those paid in full by their due date;
    the amounts due, paid and outstanding as of `as_of`; late fees charged; open annuity
    base findings; and coverage: persons on institution_basic lines of the period without an
    occupational annuity line at the same employer.
    """

    declarations_registered: Count
    declarations_paid_on_time: Count
    share_paid_on_time_bp: BasisPoints
    amount_due: Money
    amount_paid: Money
    amount_outstanding: Money
    late_fees: Money
    annuity_base_findings_open: Count
    institution_members: Count
    institution_members_without_annuity: Count


class TransferAssessed(AssessmentHeader):
    """`transfer.assessment.computed.v1`: subsidies of `period` (both funds together).

    Obligations, those forwarded in full, and in full by their due date; the amounts due,
    settled and short as of `as_of`; the days obligations of the period were open past their
    due date (summed over obligations, up to `as_of` or to the day they were fulfilled); the
    budgeted months with no appropriation or one below the budget.
    """

    obligations: Count
    forwarded_in_full: Count
    forwarded_on_time: Count
    share_forwarded_on_time_bp: BasisPoints
    amount_due: Money
    amount_settled: Money
    amount_short: Money
    shortfall_days_open: Count
    appropriations_missing: Count
    appropriations_below_budget: Count


class AnnuityAssessed(AssessmentHeader):
    """`annuity.assessment.computed.v1`: the occupational annuity of fee period `period`.

    Remittances requested, completed by their due date, and overdue (not completed, past due
    as of `as_of`); interest top-ups assessed and funded (allocated to members)."""

    remittances_requested: Count
    remittances_on_time: Count
    remittances_overdue: Count
    amount_remitted: Money
    topups_assessed: Count
    topups_funded: Count


EVENT_MODELS: Final[dict[str, type[Contract]]] = {
    ASSESSMENT_REQUESTED: AssessmentRequested,
    COLLECTION_ASSESSED: CollectionAssessed,
    TRANSFER_ASSESSED: TransferAssessed,
    ANNUITY_ASSESSED: AnnuityAssessed,
}
