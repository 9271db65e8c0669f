"""Outbound events of occupational_annuity on `annuity.ledger` (CONTRACTS.md, "annuity.ledger"),
and the operator command only it handles (`ops.annuity_funding.requested.v1`).

Money is a yuan string, person ids are identity numbers (this is an internal topic; they never go
to logs). Fields beyond CONTRACTS.md's required ones (`rule_version`, `payment_id`, ...) are the
"more fields are welcome" kind: each is listed here, so the exported schema still forbids typos.

Added for issue 12 beyond CONTRACTS.md's text: `annuity.notional_interest.adjusted.v1` (the
missed notional interest of a late back-year credit, or of members whose earlier year was posted
after a later one), the refusal reason `PREVIOUS_YEAR_NOT_POSTED` with `unposted_year`, and on
the funding and back-credit events `due_on`, `request_id`, `notice_id` and the like.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from shared.contracts.fields import Code6, Contract, Date, EntityId, Money, Name, Period, Reason
from shared.contracts.finance import PositiveMoney
from shared.contracts.hr import BACKCREDIT, MEMBER_RETIRED, HrEventId

PersonId = Annotated[str, StringConstraints(pattern=r"^[0-9]{17}[0-9X]$")]
Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")]
RateText = Annotated[str, StringConstraints(pattern=r"^0\.[0-9]{4,8}$")]
UnitFunding = Literal["self", "treasury_full"]

TOPIC_LEDGER: Final = "annuity.ledger"

CONTRIBUTION_CREDITED: Final = "annuity.contribution.credited.v1"
CONTRIBUTION_UNCREDITED: Final = "annuity.contribution.uncredited.v1"
REMITTANCE_REQUESTED: Final = "annuity.remittance.requested.v1"
REMITTANCE_COMPLETED: Final = "annuity.remittance.completed.v1"
REMITTANCE_OVERDUE: Final = "annuity.remittance.overdue.v1"
INTEREST_TOPUP_ASSESSED: Final = "annuity.interest_topup.assessed.v1"
INTEREST_TOPUP_ALLOCATED: Final = "annuity.interest_topup.allocated.v1"
NOTIONAL_INTEREST_POSTED: Final = "annuity.notional_interest.posted.v1"
NOTIONAL_INTEREST_REFUSED: Final = "annuity.notional_interest.refused.v1"
NOTIONAL_INTEREST_ADJUSTED: Final = "annuity.notional_interest.adjusted.v1"
NOTIONAL_FUNDING_REQUESTED: Final = "annuity.notional_funding.requested.v1"
NOTIONAL_FUNDING_COMPLETED: Final = "annuity.notional_funding.completed.v1"
BACKCREDIT_REQUESTED: Final = "annuity.backcredit.requested.v1"
BACKCREDIT_COMPLETED: Final = "annuity.backcredit.completed.v1"
HR_EVENT_REJECTED: Final = "annuity.hr_event.rejected.v1"
ANNUITY_FUNDING_REQUESTED: Final = "ops.annuity_funding.requested.v1"

RefusalReason = Literal["RATE_NOT_CONFIGURED", "PREVIOUS_YEAR_NOT_POSTED"]
HrEventCode = Literal[
    "PERSON_ID_INVALID", "ENTITY_UNKNOWN", "EMPLOYER_USCC_INVALID", "AMOUNT_INVALID",
    "DATE_INVALID", "MEMBER_UNKNOWN", "FIELD_INVALID", "CONFLICTING_DUPLICATE",
    "TOO_MANY_REASONS",
]


class MemberCredit(Contract):
    """One member's share of a credited declaration."""

    person_id: PersonId
    individual_real: Money
    unit_real: Money
    unit_notional: Money


class ContributionCredited(Contract):
    """`annuity.contribution.credited.v1`: a paid declaration booked to its members' accounts."""

    declaration_id: EntityId
    revision: Annotated[int, Field(ge=0)]
    payment_id: EntityId
    fiscal_entity_code: Code6
    fee_period: Period
    unit_funding: UnitFunding
    credits: list[MemberCredit]
    individual_real_total: Money
    unit_real_total: Money
    unit_notional_total: Money


class ContributionUncredited(Contract):
    """`annuity.contribution.uncredited.v1`: after this payment the declaration is still short."""

    declaration_id: EntityId
    payment_id: EntityId
    reason: Literal["UNDERPAID"]


class RemittanceRequested(Contract):
    """`annuity.remittance.requested.v1`: collected money asked to move up to the region."""

    remittance_id: Uuid
    fiscal_entity_code: Code6
    fee_period: Period
    sequence: Annotated[int, Field(ge=0)]
    amount: Money
    requested_on: Date
    due_on: Date
    rule_version: str


class RemittanceCompleted(Contract):
    """`annuity.remittance.completed.v1`: its transfer notice was settled."""

    remittance_id: Uuid
    fiscal_entity_code: Code6
    fee_period: Period
    notice_id: EntityId
    amount: Money
    value_date: Date
    on_time: bool


class RemittanceOverdue(Contract):
    """`annuity.remittance.overdue.v1`: past its due day and not settled, as of a check."""

    remittance_id: Uuid
    fiscal_entity_code: Code6
    fee_period: Period
    amount: Money
    due_on: Date
    as_of: Date


class TopupMember(Contract):
    person_id: PersonId
    principal: Money
    interest: Money


class InterestTopupAssessed(Contract):
    """`annuity.interest_topup.assessed.v1`: interest owed on money collected before investing."""

    assessment_id: Uuid
    sequence: Annotated[int, Field(ge=0)]
    fiscal_entity_code: Code6
    fee_period: Period
    interest_from: Date
    interest_to: Date
    total: Money
    members: list[TopupMember]
    funding_due_on: Date
    rule_version: str


class TopupAllocation(Contract):
    person_id: PersonId
    amount: Money


class InterestTopupAllocated(Contract):
    """`annuity.interest_topup.allocated.v1`: the funded top-up booked to members' accounts."""

    assessment_id: Uuid
    fiscal_entity_code: Code6
    fee_period: Period
    notice_id: EntityId
    amount_funded: Money
    allocations: list[TopupAllocation]


class NotionalInterestPosted(Contract):
    """`annuity.notional_interest.posted.v1`: one fiscal entity's notional interest of a year."""

    year: int
    fiscal_entity_code: Code6
    rate: RateText
    member_count: Annotated[int, Field(ge=1)]
    total: Money
    command_id: EntityId
    rule_version: str


class NotionalInterestRefused(Contract):
    """`annuity.notional_interest.refused.v1` (key 150000): nothing was posted.

    `RATE_NOT_CONFIGURED`: no notional rate for the year. `PREVIOUS_YEAR_NOT_POSTED`: years are
    posted in order, and `unposted_year` (the year before) is not posted while some notional
    money was there to earn its interest.
    """

    command_id: EntityId
    year: int
    reason: RefusalReason
    unposted_year: int | None = None


class AdjustedMember(Contract):
    person_id: PersonId
    interest: PositiveMoney


class NotionalInterestAdjusted(Contract):
    """`annuity.notional_interest.adjusted.v1` (key: fiscal entity): interest of a year already
    posted that some members missed, credited now to `unit_notional` as of that year's end.

    `cause` `late_credit`: a notional credit of an earlier fee period arrived after the year was
    posted (`cause_id` its declaration); `late_posting`: an earlier year was posted after this
    one and raised these members' balances (`cause_id` that posting's command). Each member's
    interest brings their interest of the year to round_half_up(balance before the year x rate).
    """

    fiscal_entity_code: Code6
    year: int
    rate: RateText
    cause: Literal["late_credit", "late_posting"]
    cause_id: EntityId
    member_count: Annotated[int, Field(ge=1)]
    total: PositiveMoney
    members: Annotated[list[AdjustedMember], Field(min_length=1)]
    rule_version: str


class FundingMember(Contract):
    person_id: PersonId
    amount: PositiveMoney


class NotionalFundingRequested(Contract):
    """`annuity.notional_funding.requested.v1`: 做实, the treasury asked to fund members'
    notional balances at `as_of` (posted interest included, the current year's not)."""

    funding_id: Uuid
    fiscal_entity_code: Code6
    cause: Literal["retirement", "command"]
    cause_id: EntityId
    as_of: Date
    members: Annotated[list[FundingMember], Field(min_length=1)]
    total: PositiveMoney
    due_on: Date


class NotionalFundingCompleted(Contract):
    """`annuity.notional_funding.completed.v1`: settled in full; each member's amount moved from
    `unit_notional` to `unit_real` (moved, never created)."""

    funding_id: Uuid
    fiscal_entity_code: Code6
    amount: PositiveMoney
    value_date: Date
    notice_id: EntityId
    member_count: Annotated[int, Field(ge=1)]


class BackcreditRequested(Contract):
    """`annuity.backcredit.requested.v1`: 补记 asked from the former unit's treasury."""

    backcredit_id: HrEventId
    request_id: Uuid
    person_id: PersonId
    fiscal_entity_code: Code6
    amount: PositiveMoney
    recorded_on: Date
    due_on: Date
    document_no: Name


class BackcreditCompleted(Contract):
    """`annuity.backcredit.completed.v1`: settled in full and credited to `unit_real`."""

    backcredit_id: HrEventId
    request_id: Uuid
    person_id: PersonId
    fiscal_entity_code: Code6
    amount: PositiveMoney
    value_date: Date
    notice_id: EntityId


class HrReason(Reason):
    code: HrEventCode


class HrEventRejected(Contract):
    """`annuity.hr_event.rejected.v1`: every failing check of a personnel system's event.

    It names the rejected event's entity id in its own field (`retirement_id` or
    `backcredit_id`, as the event spelled it, even malformed) and in `hr_event_id`.
    """

    hr_event_type: Literal["hr.member.retired.v1", "hr.annuity.backcredit.v1"]
    hr_event_id: str
    retirement_id: str | None = None
    backcredit_id: str | None = None
    reasons: Annotated[list[HrReason], Field(min_length=1)]


class AnnuityFundingRequested(Contract):
    """`ops.annuity_funding.requested.v1`: fund every member of the entity with a notional
    balance as of `as_of` (做实 by policy, without a retirement)."""

    command_id: EntityId
    fiscal_entity_code: Code6
    as_of: Date


EVENT_MODELS: Final[dict[str, type[Contract]]] = {
    CONTRIBUTION_CREDITED: ContributionCredited,
    CONTRIBUTION_UNCREDITED: ContributionUncredited,
    REMITTANCE_REQUESTED: RemittanceRequested,
    REMITTANCE_COMPLETED: RemittanceCompleted,
    REMITTANCE_OVERDUE: RemittanceOverdue,
    INTEREST_TOPUP_ASSESSED: InterestTopupAssessed,
    INTEREST_TOPUP_ALLOCATED: InterestTopupAllocated,
    NOTIONAL_INTEREST_POSTED: NotionalInterestPosted,
    NOTIONAL_INTEREST_REFUSED: NotionalInterestRefused,
    NOTIONAL_INTEREST_ADJUSTED: NotionalInterestAdjusted,
    NOTIONAL_FUNDING_REQUESTED: NotionalFundingRequested,
    NOTIONAL_FUNDING_COMPLETED: NotionalFundingCompleted,
    BACKCREDIT_REQUESTED: BackcreditRequested,
    BACKCREDIT_COMPLETED: BackcreditCompleted,
    HR_EVENT_REJECTED: HrEventRejected,
    ANNUITY_FUNDING_REQUESTED: AnnuityFundingRequested,
}
HR_EVENT_TYPES: Final = (MEMBER_RETIRED, BACKCREDIT)
