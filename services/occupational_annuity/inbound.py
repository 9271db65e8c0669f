"""This service's reader's view of the events it consumes from collection and fund_transfer.

The producers own their contracts (shared/contracts/collection.py, shared/contracts/transfer.py);
these minimal models validate only the fields this service uses, by CONTRACTS.md's field lists,
and ignore the rest ("more fields are welcome" on those internal topics), so a producer adding a
field cannot stop the ledger. They are strict about what they do read: a money value must be a
wire yuan string, a date a real date.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.fields import (
    NO_CONTROL_CHARACTER_PATTERN,
    Code6,
    Date,
    EntityId,
    Money,
    Period,
)

PersonId = Annotated[str, StringConstraints(pattern=r"^[0-9]{17}[0-9X]$")]
# What this service stores or matches on is text of bounded length without control characters
# (PostgreSQL refuses NUL in text); a peer's event that breaks that is ignored and recorded.
Word = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,64}$")]

DECLARATION_REGISTERED = "collection.declaration.registered.v1"
CONTRIBUTION_SETTLED = "collection.contribution.settled.v1"
NOTICE_SETTLED = "transfer.notice.settled.v1"
NOTICE_FAILED = "transfer.notice.failed.v1"


class ReaderView(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)


class RegisteredHeader(ReaderView):
    """Enough of `collection.declaration.registered.v1` to tell whether it concerns us."""

    declaration_id: EntityId
    revision: Annotated[int, Field(ge=0)]
    scheme: Word


class RegisteredLine(ReaderView):
    line_no: Annotated[int, Field(ge=1)]
    person_id: PersonId
    employer_amount: Money
    employee_amount: Money


class RegisteredAnnuity(RegisteredHeader):
    """An occupational annuity declaration: its figures as collection registered them."""

    fiscal_entity_code: Code6
    fee_period: Period
    unit_funding: Literal["self", "treasury_full"]
    lines: list[RegisteredLine]


class ContributionSettled(ReaderView):
    """`collection.contribution.settled.v1`: one payment and the declaration's status after it."""

    declaration_id: EntityId
    revision: Annotated[int, Field(ge=0)]
    payment_id: EntityId
    paid_on: Date
    amount_paid: Money
    amount_outstanding: Money
    status: Literal["paid", "underpaid", "overpaid"]


class NoticeHeader(ReaderView):
    """Enough of a transfer notice to tell whether it concerns an annuity request."""

    notice_id: EntityId
    purpose: Word
    attempt: Annotated[int, Field(ge=0)] | None = None


class NoticeSettled(NoticeHeader):
    """`transfer.notice.settled.v1`: the settled sum reached the notice's amount."""

    covers: list[EntityId]
    amount: Money
    amount_settled: Money
    value_date: Date


class NoticeFailed(NoticeHeader):
    """`transfer.notice.failed.v1`: replaced by another notice, or given up when not replaced."""

    covers: list[EntityId]
    amount: Money
    amount_settled: Money
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500,
                                             pattern=NO_CONTROL_CHARACTER_PATTERN)]
    replaced_by: EntityId | None
