"""Outbound events of occupational_annuity on `annuity.ledger` (CONTRACTS.md, "annuity.ledger").

Money is a yuan string, person ids are identity numbers (this is an internal topic; they never go
to logs). Fields beyond CONTRACTS.md's required ones (`rule_version`, `payment_id`, ...) are the
"more fields are welcome" kind: each is listed here, so the exported schema still forbids typos.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from shared.contracts.fields import Code6, Contract, Date, EntityId, Money, Period

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
    """`annuity.notional_interest.refused.v1` (key 150000): nothing was posted."""

    command_id: EntityId
    year: int
    reason: Literal["RATE_NOT_CONFIGURED"]


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
}
