"""Events of fund_transfer (CONTRACTS.md, `transfer.notices`, `transfer.obligations`,
`transfer.requests`).

fund_transfer publishes the notice and obligation events. `transfer.requested.v1` is produced by
other services (occupational_annuity) and consumed here; its model lives in this module because
it is the contract of fund_transfer's `transfer.requests` topic: producers validate against it.
Fields beyond CONTRACTS.md's required ones (`attempt`, `document_no`, `issuing_authority`,
`failed_on`, `days_late` on shortfall and overpaid) are the "more fields are welcome" kind; each
is listed here, so the exported schema still forbids typos.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from shared.contracts.fields import (
    REASONS_MAX,
    Code6,
    Contract,
    Date,
    EntityId,
    Money,
    Name,
    Period,
    Reason,
)
from shared.contracts.finance import FailureReason, PositiveMoney, SubsidyFund

TOPIC_NOTICES: Final = "transfer.notices"
TOPIC_OBLIGATIONS: Final = "transfer.obligations"
TOPIC_REQUESTS: Final = "transfer.requests"

NOTICE_ISSUED: Final = "transfer.notice.issued.v1"
NOTICE_SETTLED: Final = "transfer.notice.settled.v1"
NOTICE_FAILED: Final = "transfer.notice.failed.v1"
REQUEST_REJECTED: Final = "transfer.request.rejected.v1"
SETTLEMENT_REJECTED: Final = "transfer.settlement.rejected.v1"
APPROPRIATION_REJECTED: Final = "transfer.appropriation.rejected.v1"
OBLIGATION_FULFILLED: Final = "transfer.obligation.fulfilled.v1"
OBLIGATION_SHORTFALL: Final = "transfer.obligation.shortfall.v1"
OBLIGATION_OVERPAID: Final = "transfer.obligation.overpaid.v1"
REQUESTED: Final = "transfer.requested.v1"
BUDGET_RECORDED: Final = "transfer.budget.recorded.v1"
BUDGET_REJECTED: Final = "transfer.budget.rejected.v1"
APPROPRIATION_MISSING: Final = "transfer.appropriation.missing.v1"
APPROPRIATION_BELOW_BUDGET: Final = "transfer.appropriation.below_budget.v1"

Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")]
AccountKind = Literal["special", "annuity_collection"]
RequestPurpose = Literal["annuity_remittance", "annuity_interest_topup",
                         "annuity_notional_funding", "annuity_backcredit"]
Purpose = Literal["subsidy_forwarding", "annuity_remittance", "annuity_interest_topup",
                  "annuity_notional_funding", "annuity_backcredit"]
Fund = Literal["institution_basic_pension", "enterprise_basic_pension", "occupational_annuity"]
AccountNo = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Attempt = Annotated[int, Field(ge=0)]
DayCount = Annotated[int, Field(ge=0)]

REQUEST_CODES: Final[dict[str, str]] = {
    "purpose": "PURPOSE_UNKNOWN",
    "fund": "FUND_UNKNOWN",
    "amount": "AMOUNT_INVALID",
    "due_on": "DATE_INVALID",
    "entity_code": "ENTITY_UNKNOWN",
}
"""CONTRACTS.md: a field with a code of its own gets it whatever is wrong with it."""


class AccountRef(Contract):
    """An account named by its owner and kind; the account book resolves name and number."""

    entity_code: Code6
    kind: AccountKind


class Account(Contract):
    """A resolved account of a notice (the demo ships labelled sample account numbers)."""

    entity_code: Code6
    kind: AccountKind
    name: Name
    account_no: AccountNo


class TransferRequested(Contract):
    """`transfer.requested.v1`: another service asks fund_transfer to move money."""

    request_id: EntityId
    purpose: RequestPurpose
    fund: Literal["occupational_annuity"]
    period: Period
    amount: PositiveMoney
    source: AccountRef
    target: AccountRef
    due_on: Date


class NoticeIssued(Contract):
    """`transfer.notice.issued.v1`: a transfer notice (上划通知) finance is asked to execute."""

    notice_id: Uuid
    attempt: Attempt
    purpose: Purpose
    fund: Fund
    period: Period
    amount: PositiveMoney
    due_on: Date
    source_account: Account
    target_account: Account
    covers: Annotated[list[EntityId], Field(min_length=1)]
    replaces: Uuid | None
    document_no: Name | None
    issuing_authority: Name


class NoticeSettled(Contract):
    """`transfer.notice.settled.v1`: once, when the settled sum reaches the notice's amount."""

    notice_id: Uuid
    attempt: Attempt
    purpose: Purpose
    covers: Annotated[list[EntityId], Field(min_length=1)]
    amount: PositiveMoney
    amount_settled: PositiveMoney
    value_date: Date
    bank_references: Annotated[list[Name], Field(min_length=1)]


class NoticeFailed(Contract):
    """`transfer.notice.failed.v1`: replaced by `replaced_by`, or given up when that is null."""

    notice_id: Uuid
    attempt: Attempt
    purpose: Purpose
    covers: Annotated[list[EntityId], Field(min_length=1)]
    amount: PositiveMoney
    amount_settled: Money
    reason: FailureReason
    failed_on: Date
    replaced_by: Uuid | None


class AppropriationRejected(Contract):
    """`transfer.appropriation.rejected.v1`: every failing check of an appropriation."""

    appropriation_id: str
    reasons: Annotated[list[Reason], Field(min_length=1, max_length=REASONS_MAX)]


class SettlementRejected(Contract):
    """`transfer.settlement.rejected.v1`: every failing check of a settled or failed report."""

    settlement_id: str
    notice_id: str | None
    reasons: Annotated[list[Reason], Field(min_length=1, max_length=REASONS_MAX)]


class RequestRejected(Contract):
    """`transfer.request.rejected.v1`: every failing check of a transfer request."""

    request_id: str
    reasons: Annotated[list[Reason], Field(min_length=1, max_length=REASONS_MAX)]


class ObligationFigures(Contract):
    """What every obligation event says: one (fiscal entity, fund, period) and its sums."""

    fiscal_entity_code: Code6
    fund: SubsidyFund
    period: Period
    due_on: Date
    amount_due: Money
    amount_settled: Money


class ObligationFulfilled(ObligationFigures):
    """`transfer.obligation.fulfilled.v1`: the settled sum reached the amount due.

    `as_of` is the value date of the settlement that completed it; `days_late` counts from the
    day after `due_on` (paying on the due date is on time).
    """

    as_of: Date
    days_late: DayCount


class ObligationShortfall(ObligationFigures):
    """`transfer.obligation.shortfall.v1`: past due with money outstanding as of a check date."""

    amount_outstanding: PositiveMoney
    as_of: Date
    days_late: DayCount


class ObligationOverpaid(ObligationFigures):
    """`transfer.obligation.overpaid.v1`: more was settled than is due; the excess is kept and
    reported, never absorbed."""

    amount_excess: PositiveMoney
    as_of: Date
    days_late: DayCount


class BudgetRecorded(Contract):
    """`transfer.budget.recorded.v1`: a budget revision is in force from now on."""

    budget_id: EntityId
    revision: Annotated[int, Field(ge=0)]
    replaces_revision: Annotated[int, Field(ge=0)] | None
    fiscal_entity_code: Code6
    fund: SubsidyFund
    year: Annotated[int, Field(ge=2000, le=2200)]
    amount_per_month: PositiveMoney
    document_no: Name


class BudgetRejected(Contract):
    """`transfer.budget.rejected.v1`: a budget that cannot be recorded, and why."""

    budget_id: str
    reasons: Annotated[list[Reason], Field(min_length=1, max_length=REASONS_MAX)]


class BudgetGap(Contract):
    """What a budget check reports of one (fiscal entity, fund, period) past its appropriation's
    due date, once per check date: the budget, what was appropriated, what falls short."""

    fiscal_entity_code: Code6
    fund: SubsidyFund
    period: Period
    budget_id: EntityId
    amount_budgeted: PositiveMoney
    amount_appropriated: Money
    amount_short: PositiveMoney
    due_on: Date
    as_of: Date
    days_late: Annotated[int, Field(ge=1)]
    rule_version: str


class AppropriationMissing(BudgetGap):
    """`transfer.appropriation.missing.v1`: budgeted, past due, and nothing appropriated."""


class AppropriationBelowBudget(BudgetGap):
    """`transfer.appropriation.below_budget.v1`: past due, and appropriated below the budget."""


EVENT_MODELS: Final[dict[str, type[Contract]]] = {
    BUDGET_RECORDED: BudgetRecorded,
    BUDGET_REJECTED: BudgetRejected,
    APPROPRIATION_MISSING: AppropriationMissing,
    APPROPRIATION_BELOW_BUDGET: AppropriationBelowBudget,
    NOTICE_ISSUED: NoticeIssued,
    NOTICE_SETTLED: NoticeSettled,
    NOTICE_FAILED: NoticeFailed,
    REQUEST_REJECTED: RequestRejected,
    SETTLEMENT_REJECTED: SettlementRejected,
    APPROPRIATION_REJECTED: AppropriationRejected,
    OBLIGATION_FULFILLED: ObligationFulfilled,
    OBLIGATION_SHORTFALL: ObligationShortfall,
    OBLIGATION_OVERPAID: ObligationOverpaid,
    REQUESTED: TransferRequested,
}
