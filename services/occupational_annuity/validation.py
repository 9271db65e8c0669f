"""Inbound events -> items (pure: no I/O, no clock, no logging); `check` runs per record before
the batch's transaction (shared.messaging `Handling.check`).

Events of other services are read through this service's reader's view: minimal models of the
fields it uses, by CONTRACTS.md's field lists, that ignore the rest ("more fields are welcome" on
those internal topics), so a producer adding a field cannot stop the ledger. They are strict
about what they do read: a money value must be a wire yuan string, a date a real date. A view
that fails is an `Unreadable` item (recorded, not answered: the producer owns the contract).
Commands are checked against their contracts and answered when they break them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from services.occupational_annuity.domain import ANNUITY_SCHEME
from services.occupational_annuity.model import (
    CommandInvalid,
    DeadlineCheck,
    Declaration,
    Item,
    Line,
    NoticeOutcome,
    NoticeResult,
    NotionalInterestRequest,
    PaymentSettled,
    Registration,
    Unreadable,
)
from shared.contracts.fields import (
    NO_CONTROL_CHARACTER_PATTERN,
    Code6,
    Date,
    DeadlineCheckRequested,
    EntityId,
    Money,
    NotionalInterestRequested,
    Period,
    cap_reasons,
    parse_date,
    reasons_from_error,
    validate_contract,
)
from shared.money import parse_yuan

PersonId = Annotated[str, StringConstraints(pattern=r"^[0-9]{17}[0-9X]$")]
# What this service stores or matches on is text of bounded length without control characters
# (PostgreSQL refuses NUL in text); a peer's event that breaks that is ignored and recorded.
Word = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,64}$")]
_View = TypeVar("_View", bound=BaseModel)
_Notice = TypeVar("_Notice", "NoticeSettled", "NoticeFailed")

DECLARATION_REGISTERED: Final = "collection.declaration.registered.v1"
CONTRIBUTION_SETTLED: Final = "collection.contribution.settled.v1"
NOTICE_SETTLED: Final = "transfer.notice.settled.v1"
NOTICE_FAILED: Final = "transfer.notice.failed.v1"
DEADLINE_CHECK: Final = "ops.deadline_check.requested.v1"
NOTIONAL_INTEREST: Final = "ops.notional_interest.requested.v1"
COMMAND_TYPES: Final = frozenset({DEADLINE_CHECK, NOTIONAL_INTEREST})
ANNUITY_PURPOSES: Final = frozenset({"annuity_remittance", "annuity_interest_topup"})

CODES_BY_FIELD: Final = {
    "amount_paid": "AMOUNT_INVALID", "amount_outstanding": "AMOUNT_INVALID",
    "employer_amount": "AMOUNT_INVALID", "employee_amount": "AMOUNT_INVALID",
    "amount": "AMOUNT_INVALID", "amount_settled": "AMOUNT_INVALID",
    "paid_on": "DATE_INVALID", "value_date": "DATE_INVALID",
}
COMMAND_CODES: Final = {"as_of": "DATE_INVALID"}


# ---- reader's views of collection's and fund_transfer's events ---------------------------------


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


class NoticeFigures(NoticeHeader):
    """What both outcomes of a notice say: the requests it covers and its money."""

    covers: list[EntityId]
    amount: Money
    amount_settled: Money


class NoticeSettled(NoticeFigures):
    """`transfer.notice.settled.v1`: the settled sum reached the notice's amount."""

    value_date: Date


class NoticeFailed(NoticeFigures):
    """`transfer.notice.failed.v1`: replaced by another notice, or given up when not replaced."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=500,
                                             pattern=NO_CONTROL_CHARACTER_PATTERN)]
    replaced_by: EntityId | None


# ---- checks ------------------------------------------------------------------------------------


class _Unread(Exception):
    """A reader's view failed: becomes an `Unreadable` item, never leaves this module."""

    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("reader view failed")
        self.reasons = reasons


def _view(model: type[_View], data: Mapping[str, Any]) -> _View:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _Unread(reasons_from_error(error, CODES_BY_FIELD)) from error


def check(event_type: str, data: Mapping[str, Any], entity_id: str) -> Item:
    """One event as an item; `entity_id` is the envelope's (echoed in a command rejection)."""
    readers: dict[str, Callable[[Mapping[str, Any], str], Item]] = {
        DECLARATION_REGISTERED: _registration, CONTRIBUTION_SETTLED: _payment,
        NOTICE_SETTLED: _notice_settled, NOTICE_FAILED: _notice_failed,
        DEADLINE_CHECK: _deadline_check, NOTIONAL_INTEREST: _notional_interest,
    }
    try:
        return readers[event_type](data, entity_id)
    except _Unread as unread:
        return Unreadable(event_type, unread.reasons)


def _registration(data: Mapping[str, Any], entity_id: str) -> Item:
    """Only annuity declarations are read in full; others need just their id and revision."""
    header = _view(RegisteredHeader, data)
    if header.scheme != ANNUITY_SCHEME:
        return Registration(header.declaration_id, header.revision, header.scheme, None)
    view = _view(RegisteredAnnuity, data)
    lines = tuple(Line(line.person_id, parse_yuan(line.employer_amount),
                       parse_yuan(line.employee_amount)) for line in view.lines)
    declaration = Declaration(view.declaration_id, view.revision, view.fiscal_entity_code,
                              view.fee_period, view.unit_funding, lines)
    return Registration(view.declaration_id, view.revision, view.scheme, declaration)


def _payment(data: Mapping[str, Any], entity_id: str) -> Item:
    view = _view(ContributionSettled, data)
    return PaymentSettled(view.payment_id, view.declaration_id, view.revision, view.status,
                          parse_date(view.paid_on), parse_yuan(view.amount_paid),
                          parse_yuan(view.amount_outstanding))


def _notice_settled(data: Mapping[str, Any], entity_id: str) -> Item:
    view = _annuity_notice(NoticeSettled, data)
    if view is None:
        return None
    return _outcome(view, "settled", value_date=parse_date(view.value_date))


def _notice_failed(data: Mapping[str, Any], entity_id: str) -> Item:
    view = _annuity_notice(NoticeFailed, data)
    if view is None:
        return None
    return _outcome(view, "failed", reason=view.reason, replaced_by=view.replaced_by)


def _outcome(view: NoticeFigures, result: NoticeResult, **details: Any) -> NoticeOutcome:
    return NoticeOutcome(view.notice_id, view.attempt, view.purpose, tuple(view.covers),
                         parse_yuan(view.amount), parse_yuan(view.amount_settled), result,
                         **details)


def _annuity_notice(model: type[_Notice], data: Mapping[str, Any]) -> _Notice | None:
    """Subsidy notices are fund_transfer's own business: only their header is read."""
    if _view(NoticeHeader, data).purpose not in ANNUITY_PURPOSES:
        return None
    return _view(model, data)


def _deadline_check(data: Mapping[str, Any], entity_id: str) -> Item:
    checked = validate_contract(DeadlineCheckRequested, data, COMMAND_CODES)
    if checked.model is None:
        return CommandInvalid(entity_id, cap_reasons(checked.reasons, checked.more))
    return DeadlineCheck(checked.model.command_id, parse_date(checked.model.as_of))


def _notional_interest(data: Mapping[str, Any], entity_id: str) -> Item:
    checked = validate_contract(NotionalInterestRequested, data, COMMAND_CODES)
    if checked.model is None:
        return CommandInvalid(entity_id, cap_reasons(checked.reasons, checked.more))
    return NotionalInterestRequest(checked.model.command_id, checked.model.year)
