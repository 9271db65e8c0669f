"""Inbound events of the finance systems (CONTRACTS.md, `finance.subsidy.appropriations` and
`finance.transfer.settlements`).

These models check the wire shape only: types, patterns, enums, unknown fields. Whether a fiscal
entity may appropriate (one of the 14 leagues/cities, never the region 150000) is data, so the
fund_transfer domain checks it against its account book and adds its own reasons next to these.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from shared.contracts.fields import (
    NO_CONTROL_CHARACTER_PATTERN,
    Code6,
    Contract,
    Date,
    EntityId,
    Name,
    Period,
)

TOPIC_APPROPRIATIONS: Final = "finance.subsidy.appropriations"
TOPIC_SETTLEMENTS: Final = "finance.transfer.settlements"
TOPIC_BUDGETS: Final = "finance.subsidy.budgets"
APPROPRIATED: Final = "finance.subsidy.appropriated.v1"
BUDGETED: Final = "finance.subsidy.budgeted.v1"
SETTLED: Final = "finance.transfer.settled.v1"
FAILED: Final = "finance.transfer.failed.v1"

# Money strictly above zero: a zero appropriation or settlement moves nothing and would issue a
# notice nobody can settle. Same shape as fields.MONEY_PATTERN otherwise.
POSITIVE_MONEY_PATTERN: Final = r"^(0\.(0[1-9]|[1-9][0-9])|[1-9][0-9]{0,11}\.[0-9]{2})$"
PositiveMoney = Annotated[str, StringConstraints(pattern=POSITIVE_MONEY_PATTERN)]
"""Yuan with exactly two decimals, greater than zero: "0.01" .. "999999999999.99"."""

SubsidyFund = Literal["institution_basic_pension", "enterprise_basic_pension"]
FailureReason = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=NO_CONTROL_CHARACTER_PATTERN)
]

APPROPRIATION_CODES: Final[dict[str, str]] = {
    "fiscal_entity_code": "ENTITY_UNKNOWN",
    "fund": "FUND_UNKNOWN",
    "amount_due": "AMOUNT_INVALID",
    "due_on": "DATE_INVALID",
}
"""CONTRACTS.md: a field with a code of its own gets it whatever is wrong with it."""

BUDGET_CODES: Final[dict[str, str]] = {
    "fiscal_entity_code": "ENTITY_UNKNOWN",
    "fund": "FUND_UNKNOWN",
    "amount_per_month": "AMOUNT_INVALID",
}

SETTLEMENT_CODES: Final[dict[str, str]] = {
    "amount_settled": "AMOUNT_INVALID",
    "value_date": "DATE_INVALID",
    "failed_on": "DATE_INVALID",
}


class SubsidyAppropriated(Contract):
    """`finance.subsidy.appropriated.v1`: a league/city appropriates its current-period subsidy."""

    appropriation_id: EntityId
    fiscal_entity_code: Code6
    fund: SubsidyFund
    period: Period
    amount_due: PositiveMoney
    due_on: Date
    document_no: Name


class TransferSettled(Contract):
    """`finance.transfer.settled.v1`: money of a notice arrived (possibly only part of it)."""

    settlement_id: EntityId
    notice_id: EntityId
    amount_settled: PositiveMoney
    value_date: Date
    bank_reference: Name


class TransferFailed(Contract):
    """`finance.transfer.failed.v1`: the bank could not execute a notice."""

    settlement_id: EntityId
    notice_id: EntityId
    reason: FailureReason
    failed_on: Date


class SubsidyBudgeted(Contract):
    """`finance.subsidy.budgeted.v1`: regional finance's budget of a league/city's subsidy to one
    fund for one year, the same amount each month (docs/contracts.md). A higher `revision` for
    the same entity, fund and year replaces the budget in force."""

    budget_id: EntityId
    revision: Annotated[int, Field(ge=0)]
    fiscal_entity_code: Code6
    fund: SubsidyFund
    year: Annotated[int, Field(ge=2000, le=2200)]
    amount_per_month: PositiveMoney
    document_no: Name


EVENT_MODELS: Final[dict[str, type[Contract]]] = {
    APPROPRIATED: SubsidyAppropriated,
    BUDGETED: SubsidyBudgeted,
    SETTLED: TransferSettled,
    FAILED: TransferFailed,
}
