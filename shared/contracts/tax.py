"""Inbound events of the tax bureau (CONTRACTS.md, `tax.contribution.declarations` and `.payments`).

These models check the wire shape only: types, patterns, enums, unknown fields. The checks that
need arithmetic or rules (check characters, region mapping, amounts, revisions) belong to the
collection service's domain, which adds its own reasons next to the ones mapped from here.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from shared.contracts.fields import Code6, Contract, Date, EntityId, Money, Name, Period

TOPIC_DECLARATIONS: Final = "tax.contribution.declarations"
TOPIC_PAYMENTS: Final = "tax.contribution.payments"
DECLARED: Final = "tax.contribution.declared.v1"
PAID: Final = "tax.contribution.paid.v1"
ENTERPRISE_ANNUITY_DECLARED: Final = "tax.enterprise_annuity.declared.v1"

LINES_MAX: Final = 5_000
"""CONTRACTS.md: a larger employer sends several declarations (TOO_MANY_LINES past this)."""

# GB 32100-2015 alphabet (no I O S V Z), division code digits; the check character is domain's.
USCC_PATTERN: Final = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
PERSON_ID_PATTERN: Final = r"^[0-9]{17}[0-9X]$"

Uscc = Annotated[str, StringConstraints(pattern=USCC_PATTERN)]
PersonId = Annotated[str, StringConstraints(pattern=PERSON_ID_PATTERN)]
Scheme = Literal["enterprise_basic", "institution_basic", "occupational_annuity"]
UnitFunding = Literal["treasury_full", "self"]
Revision = Annotated[int, Field(ge=0)]
LineNo = Annotated[int, Field(ge=1)]
VoucherNo = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]

DECLARATION_CODES: Final[dict[str, str]] = {
    "employer_uscc": "EMPLOYER_USCC_INVALID",
    "region_code": "REGION_UNKNOWN",
    "fee_period": "PERIOD_INVALID",
    "declared_on": "DATE_INVALID",
    "unit_funding": "UNIT_FUNDING_INVALID",
    "line_no": "LINE_NUMBER_INVALID",
    "person_id": "PERSON_ID_INVALID",
    "base": "AMOUNT_INVALID",
    "employer_amount": "AMOUNT_INVALID",
    "employee_amount": "AMOUNT_INVALID",
}
"""CONTRACTS.md "Which code": a field with a code of its own gets it whatever is wrong with it."""

ENTERPRISE_ANNUITY_CODES: Final[dict[str, str]] = {
    "employer_uscc": "EMPLOYER_USCC_INVALID",
    "region_code": "REGION_UNKNOWN",
    "fee_period": "PERIOD_INVALID",
    "declared_on": "DATE_INVALID",
    "account_established_on": "DATE_INVALID",
    "line_no": "LINE_NUMBER_INVALID",
    "person_id": "PERSON_ID_INVALID",
    "payroll_total": "AMOUNT_INVALID",
    "employer_amount": "AMOUNT_INVALID",
    "employee_amount": "AMOUNT_INVALID",
}

PAYMENT_CODES: Final[dict[str, str]] = {
    "amount_paid": "AMOUNT_INVALID",
    "paid_on": "DATE_INVALID",
}


class DeclarationLine(Contract):
    """One insured person of a declaration; amounts are base x rate, half-up to the fen."""

    line_no: LineNo
    person_id: PersonId
    person_name: Name
    base: Money
    employer_amount: Money
    employee_amount: Money


class DeclarationDeclared(Contract):
    """`tax.contribution.declared.v1`: one employer's declaration for one scheme and fee period."""

    declaration_id: EntityId
    revision: Revision
    employer_uscc: Uscc
    employer_name: Name
    region_code: Code6
    scheme: Scheme
    fee_period: Period
    # Present (not null) exactly for occupational_annuity; may be omitted where it is null.
    unit_funding: UnitFunding | None = None
    declared_on: Date
    lines: Annotated[
        list[DeclarationLine],
        Field(min_length=1, json_schema_extra={"maxItems": LINES_MAX}),
    ]


class PaymentPaid(Contract):
    """`tax.contribution.paid.v1`: the tax bureau confirms money received for a declaration."""

    payment_id: EntityId
    declaration_id: EntityId
    e_tax_voucher_no: VoucherNo
    amount_paid: Money
    paid_on: Date


class EnterpriseAnnuityLine(Contract):
    """One member of an enterprise annuity (企业年金) filing: the employer's allocation to the
    member and the member's own contribution; `account_established_on` states when the member's
    basic-pension personal account was set up, for a back-fill (补建) filing."""

    line_no: LineNo
    person_id: PersonId
    person_name: Name
    employer_amount: Money
    employee_amount: Money
    account_established_on: Date | None = None


class EnterpriseAnnuityDeclared(Contract):
    """`tax.enterprise_annuity.declared.v1`: an employer's enterprise annuity contribution for one
    fee period: the period's payroll total and each member's amounts (docs/contracts.md).

    The plan year is the calendar year of `fee_period`. `backfill` marks a 补建 filing for a past
    period, which may not start before a member's basic-pension personal account (policy 二(四)11).
    """

    declaration_id: EntityId
    revision: Revision
    employer_uscc: Uscc
    employer_name: Name
    region_code: Code6
    fee_period: Period
    declared_on: Date
    payroll_total: Money
    backfill: bool
    lines: Annotated[
        list[EnterpriseAnnuityLine],
        Field(min_length=1, json_schema_extra={"maxItems": LINES_MAX}),
    ]


EVENT_MODELS: Final[dict[str, type[Contract]]] = {
    DECLARED: DeclarationDeclared,
    PAID: PaymentPaid,
    ENTERPRISE_ANNUITY_DECLARED: EnterpriseAnnuityDeclared,
}
