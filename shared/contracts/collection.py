"""Outbound events of collection on `collection.declarations` (key: employer USCC).

CONTRACTS.md lists the required fields; the few more ("more fields are welcome") are listed here
too, so the exported schema still rejects a typo. Person ids travel in clear on this internal
topic for the annuity ledger; they never go to logs. A rejection echoes the ids it was sent, even
malformed ones (that is why those ids are plain strings here).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field

from shared.contracts.fields import (
    REASONS_MAX,
    Code6,
    Contract,
    Date,
    EntityId,
    LineReason,
    Money,
    Period,
)
from shared.contracts.fields import Reason as PlainReason
from shared.contracts.tax import PersonId, Scheme, UnitFunding, Uscc

TOPIC_DECLARATIONS: Final = "collection.declarations"
REGISTERED: Final = "collection.declaration.registered.v1"
DECLARATION_REJECTED: Final = "collection.declaration.rejected.v1"
SETTLED: Final = "collection.contribution.settled.v1"
PAYMENT_REJECTED: Final = "collection.payment.rejected.v1"
OVERDUE: Final = "collection.contribution.overdue.v1"
ENTERPRISE_ANNUITY_REGISTERED: Final = "collection.enterprise_annuity.registered.v1"
ENTERPRISE_ANNUITY_REJECTED: Final = "collection.enterprise_annuity.rejected.v1"
ANNUITY_BASE_FINDING: Final = "collection.annuity_base.finding.v1"
ANNUITY_BASE_RESOLVED: Final = "collection.annuity_base.resolved.v1"

Revision = Annotated[int, Field(ge=0)]
Days = Annotated[int, Field(ge=0)]

DeclarationCode = Literal[
    "EMPLOYER_USCC_INVALID", "REGION_UNKNOWN", "PERIOD_INVALID", "SCHEME_NOT_CONFIGURED",
    "BASE_BOUNDS_NOT_CONFIGURED", "PERSON_ID_INVALID", "PERSON_DUPLICATED", "BASE_OUT_OF_RANGE",
    "AMOUNT_MISMATCH", "AMOUNT_INVALID", "DATE_INVALID", "UNIT_FUNDING_INVALID",
    "TOO_MANY_LINES", "LINE_NUMBER_INVALID", "FIELD_INVALID", "REVISION_STALE",
    "ALREADY_SETTLED", "CONFLICTING_DUPLICATE", "TOO_MANY_REASONS",
]
EnterpriseAnnuityCode = Literal[
    "EMPLOYER_USCC_INVALID", "REGION_UNKNOWN", "PERIOD_INVALID", "SCHEME_NOT_CONFIGURED",
    "PERSON_ID_INVALID", "PERSON_DUPLICATED", "AMOUNT_INVALID", "DATE_INVALID",
    "TOO_MANY_LINES", "LINE_NUMBER_INVALID", "FIELD_INVALID", "REVISION_STALE",
    "CONFLICTING_DUPLICATE", "TOO_MANY_REASONS",
    "EMPLOYER_SHARE_OVER_CAP", "TOTAL_SHARE_OVER_CAP", "MEMBER_ALLOCATION_OVER_CAP",
    "BACKFILL_BEFORE_ACCOUNT", "BACKFILL_ACCOUNT_UNKNOWN",
]
PaymentCode = Literal[
    "AMOUNT_INVALID", "DATE_INVALID", "FIELD_INVALID", "CONFLICTING_DUPLICATE",
    "DECLARATION_REJECTED", "TOO_MANY_REASONS",
]


class RegisteredLine(Contract):
    line_no: Annotated[int, Field(ge=1)]
    person_id: PersonId
    base: Money
    employer_amount: Money
    employee_amount: Money


class DeclarationRegistered(Contract):
    """`collection.declaration.registered.v1`: a revision passed every check and is current.

    `amount_due` is employer + employee totals, except for `treasury_full` annuity declarations,
    whose unit share is notional (记账) and not due. `rule_version` names the rule set that
    produced the figures; `replaces_revision` the revision it replaced, or null.
    """

    declaration_id: EntityId
    revision: Revision
    replaces_revision: Revision | None
    employer_uscc: Uscc
    region_code: Code6
    fiscal_entity_code: Code6
    scheme: Scheme
    unit_funding: UnitFunding | None
    fee_period: Period
    declared_on: Date
    due_on: Date
    line_count: Annotated[int, Field(ge=1)]
    base_total: Money
    employer_total: Money
    employee_total: Money
    amount_due: Money
    rule_version: str
    lines: list[RegisteredLine]


class DeclarationReason(LineReason):
    """One failing check; `line_no` is null for declaration-level checks."""

    code: DeclarationCode


class DeclarationRejected(Contract):
    """`collection.declaration.rejected.v1`: every failing check of one declaration."""

    declaration_id: str
    revision: int | None
    reasons: Annotated[list[DeclarationReason], Field(min_length=1, max_length=REASONS_MAX)]


class ContributionSettled(Contract):
    """`collection.contribution.settled.v1`: one payment, and the declaration after it.

    `days_late` counts from the day after `due_on` through `paid_on`; `late_fee_due` is 0.05% a
    day of the part of this payment that covered what was outstanding, owed on top.
    """

    declaration_id: EntityId
    revision: Revision
    payment_id: EntityId
    paid_on: Date
    due_on: Date
    amount_due: Money
    amount_paid: Money
    amount_paid_total: Money
    amount_outstanding: Money
    days_late: Days
    late_fee_due: Money
    status: Literal["paid", "underpaid", "overpaid"]


class PaymentReason(PlainReason):
    code: PaymentCode


class PaymentRejected(Contract):
    """`collection.payment.rejected.v1`: a payment that cannot be applied, and why."""

    payment_id: str
    declaration_id: str | None
    reasons: Annotated[list[PaymentReason], Field(min_length=1, max_length=REASONS_MAX)]


class ContributionOverdue(Contract):
    """`collection.contribution.overdue.v1`: past due and not paid in full as of a check.

    Reported at most once per declaration and `as_of`; the fee accrues on the outstanding amount.
    """

    declaration_id: EntityId
    revision: Revision
    employer_uscc: Uscc
    fiscal_entity_code: Code6
    fee_period: Period
    due_on: Date
    amount_due: Money
    amount_outstanding: Money
    days_late: Annotated[int, Field(ge=1)]
    late_fee_accrued: Money
    as_of: Date


class EnterpriseAnnuityRegisteredLine(Contract):
    line_no: Annotated[int, Field(ge=1)]
    person_id: PersonId
    employer_amount: Money
    employee_amount: Money


class EnterpriseAnnuityRegistered(Contract):
    """`collection.enterprise_annuity.registered.v1`: a filing within every cap.

    The `plan_year_*` figures add up the employer's current filings of the plan year (this one
    included) that the annual caps were checked against; `rule_version` names the caps' rules.
    """

    declaration_id: EntityId
    revision: Revision
    replaces_revision: Revision | None
    employer_uscc: Uscc
    region_code: Code6
    fiscal_entity_code: Code6
    fee_period: Period
    plan_year: Annotated[int, Field(ge=2000, le=2200)]
    declared_on: Date
    backfill: bool
    line_count: Annotated[int, Field(ge=1)]
    payroll_total: Money
    employer_total: Money
    employee_total: Money
    plan_year_payroll_total: Money
    plan_year_employer_total: Money
    plan_year_employee_total: Money
    rule_version: str
    lines: list[EnterpriseAnnuityRegisteredLine]


class EnterpriseAnnuityReason(LineReason):
    code: EnterpriseAnnuityCode


class EnterpriseAnnuityRejected(Contract):
    """`collection.enterprise_annuity.rejected.v1`: every failing check of one filing."""

    declaration_id: str
    revision: int | None
    reasons: Annotated[list[EnterpriseAnnuityReason],
                       Field(min_length=1, max_length=REASONS_MAX)]


FindingKind = Literal["BASE_MISMATCH", "BASIC_PENSION_MISSING"]


class AnnuityBaseFinding(Contract):
    """`collection.annuity_base.finding.v1`: an occupational annuity line whose base is not the
    same person's basic-pension base of that period and employer (BASE_MISMATCH), or has no
    basic-pension line there yet (BASIC_PENSION_MISSING). Not a rejection: the two declarations
    may arrive in either order. One `finding_id` per employer, period and person; a later event
    about the same finding replaces the earlier (its kind or figures changed)."""

    finding_id: EntityId
    kind: FindingKind
    employer_uscc: Uscc
    fiscal_entity_code: Code6
    fee_period: Period
    person_id: PersonId
    annuity_declaration_id: EntityId
    annuity_line_no: Annotated[int, Field(ge=1)]
    annuity_base: Money
    basic_declaration_id: EntityId | None
    basic_base: Money | None
    rule_version: str


class AnnuityBaseResolved(Contract):
    """`collection.annuity_base.resolved.v1`: the finding's data agree now (or the annuity line
    is gone with a revision): `base` is the agreed base, null when the line is gone."""

    finding_id: EntityId
    employer_uscc: Uscc
    fiscal_entity_code: Code6
    fee_period: Period
    person_id: PersonId
    base: Money | None
    rule_version: str


EVENT_MODELS: Final[dict[str, type[Contract]]] = {
    REGISTERED: DeclarationRegistered,
    DECLARATION_REJECTED: DeclarationRejected,
    SETTLED: ContributionSettled,
    PAYMENT_REJECTED: PaymentRejected,
    OVERDUE: ContributionOverdue,
    ENTERPRISE_ANNUITY_REGISTERED: EnterpriseAnnuityRegistered,
    ENTERPRISE_ANNUITY_REJECTED: EnterpriseAnnuityRejected,
    ANNUITY_BASE_FINDING: AnnuityBaseFinding,
    ANNUITY_BASE_RESOLVED: AnnuityBaseResolved,
}
