"""Inbound events -> items (pure: no I/O, no clock, no logging); `check` runs per record before
the batch's transaction (shared.messaging `Handling.check`).

Events of other services are read through this service's reader's view: minimal models of the
fields it uses, by CONTRACTS.md's field lists, that ignore the rest ("more fields are welcome" on
those internal topics), so a producer adding a field cannot stop the ledger. They are strict
about what they do read: a money value must be a wire yuan string, a date a real date. A view
that fails is an `Unreadable` item (recorded, not answered: the producer owns the contract).
Commands and the personnel systems' events (`hr.annuity.events`) are checked against their
contracts here, check characters included, and answered when they break them; whether the
person is a member of the entity is the handler's to add (it needs the ledger).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from services.occupational_annuity.domain import ANNUITY_SCHEME, REGION_CODE
from services.occupational_annuity.model import (
    CommandInvalid,
    DeadlineCheck,
    Declaration,
    FundingCommand,
    Item,
    Line,
    NoticeOutcome,
    NoticeResult,
    NotionalInterestRequest,
    PaymentSettled,
    PersonnelEvent,
    PersonnelKind,
    Registration,
    Unreadable,
)
from shared.cli.entities import FISCAL_ENTITIES
from shared.contracts import hr
from shared.contracts.annuity import ANNUITY_FUNDING_REQUESTED, AnnuityFundingRequested
from shared.contracts.assessment import ASSESSMENT_REQUESTED, AssessmentCommand, AssessmentRequested
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
from shared.ids import resident_id_problem, uscc_is_valid
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
ANNUITY_FUNDING: Final = ANNUITY_FUNDING_REQUESTED
COMMAND_TYPES: Final = frozenset({DEADLINE_CHECK, NOTIONAL_INTEREST, ANNUITY_FUNDING,
                                  ASSESSMENT_REQUESTED})
PERSONNEL_TYPES: Final = frozenset({hr.MEMBER_RETIRED, hr.BACKCREDIT})
ANNUITY_PURPOSES: Final = frozenset({"annuity_remittance", "annuity_interest_topup",
                                     "annuity_notional_funding", "annuity_backcredit"})

CODES_BY_FIELD: Final = {
    "amount_paid": "AMOUNT_INVALID", "amount_outstanding": "AMOUNT_INVALID",
    "employer_amount": "AMOUNT_INVALID", "employee_amount": "AMOUNT_INVALID",
    "amount": "AMOUNT_INVALID", "amount_settled": "AMOUNT_INVALID",
    "paid_on": "DATE_INVALID", "value_date": "DATE_INVALID",
}
COMMAND_CODES: Final = {"as_of": "DATE_INVALID", "period": "PERIOD_INVALID"}


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


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a check needs of an event besides its data: the envelope's entity id (echoed in a
    rejection), the record's key (a rejection is keyed like it) and the payload hash (a
    personnel event's id reused with other content is a conflict)."""

    entity_id: str
    key: str | None
    content_hash: bytes


def check(event_type: str, data: Mapping[str, Any], envelope: Envelope) -> Item:
    """One event as an item."""
    readers: dict[str, Callable[[Mapping[str, Any], Envelope], Item]] = {
        DECLARATION_REGISTERED: _registration, CONTRIBUTION_SETTLED: _payment,
        NOTICE_SETTLED: _notice_settled, NOTICE_FAILED: _notice_failed,
        DEADLINE_CHECK: _deadline_check, NOTIONAL_INTEREST: _notional_interest,
        ANNUITY_FUNDING: _funding_command, ASSESSMENT_REQUESTED: _assessment,
        hr.MEMBER_RETIRED: _retirement,
        hr.BACKCREDIT: _backcredit,
    }
    try:
        return readers[event_type](data, envelope)
    except _Unread as unread:
        return Unreadable(event_type, unread.reasons)


def _registration(data: Mapping[str, Any], envelope: Envelope) -> Item:
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


def _payment(data: Mapping[str, Any], envelope: Envelope) -> Item:
    view = _view(ContributionSettled, data)
    return PaymentSettled(view.payment_id, view.declaration_id, view.revision, view.status,
                          parse_date(view.paid_on), parse_yuan(view.amount_paid),
                          parse_yuan(view.amount_outstanding))


def _notice_settled(data: Mapping[str, Any], envelope: Envelope) -> Item:
    view = _annuity_notice(NoticeSettled, data)
    if view is None:
        return None
    return _outcome(view, "settled", value_date=parse_date(view.value_date))


def _notice_failed(data: Mapping[str, Any], envelope: Envelope) -> Item:
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


def _deadline_check(data: Mapping[str, Any], envelope: Envelope) -> Item:
    checked = validate_contract(DeadlineCheckRequested, data, COMMAND_CODES)
    if checked.model is None:
        return CommandInvalid(envelope.entity_id, cap_reasons(checked.reasons, checked.more))
    return DeadlineCheck(checked.model.command_id, parse_date(checked.model.as_of))


def _assessment(data: Mapping[str, Any], envelope: Envelope) -> Item:
    checked = validate_contract(AssessmentRequested, data, COMMAND_CODES)
    if checked.model is None:
        return CommandInvalid(envelope.entity_id, cap_reasons(checked.reasons, checked.more))
    model = checked.model
    return AssessmentCommand(model.command_id, model.period, parse_date(model.as_of))


def _notional_interest(data: Mapping[str, Any], envelope: Envelope) -> Item:
    checked = validate_contract(NotionalInterestRequested, data, COMMAND_CODES)
    if checked.model is None:
        return CommandInvalid(envelope.entity_id, cap_reasons(checked.reasons, checked.more))
    return NotionalInterestRequest(checked.model.command_id, checked.model.year)


def _funding_command(data: Mapping[str, Any], envelope: Envelope) -> Item:
    checked = validate_contract(AnnuityFundingRequested, data, COMMAND_CODES)
    reasons = list(checked.reasons)
    code = data.get("fiscal_entity_code")
    if checked.model is not None and code not in FISCAL_ENTITIES:
        # ops.command.rejected.v1 has no ENTITY_UNKNOWN: CONTRACTS.md names its codes.
        reasons.append(_reason("FIELD_INVALID", "fiscal_entity_code",
                               f"{code} is not one of the 15 fiscal entities"))
    if checked.model is None or reasons:
        return CommandInvalid(envelope.entity_id, cap_reasons(reasons, checked.more))
    return FundingCommand(checked.model.command_id, checked.model.fiscal_entity_code,
                          parse_date(checked.model.as_of))


# ---- hr.annuity.events -------------------------------------------------------------------------


def _reason(code: str, field_name: str, message: str) -> dict[str, Any]:
    return {"code": code, "field": field_name, "message": message}


def _retirement(data: Mapping[str, Any], envelope: Envelope) -> Item:
    return _personnel("retirement", hr.MemberRetired, "retired_on", data, envelope)


def _backcredit(data: Mapping[str, Any], envelope: Envelope) -> Item:
    return _personnel("backcredit", hr.BackcreditRecorded, "recorded_on", data, envelope)


def _personnel(kind: PersonnelKind, model: type[hr.MemberRetired | hr.BackcreditRecorded],
               date_field: str, data: Mapping[str, Any], envelope: Envelope) -> PersonnelEvent:
    """The wire shape, then the checks a pattern cannot make: check characters, a birth date
    not after the event's date, an entity code that is one of the 15. Every reason, once."""
    checked = validate_contract(model, data, hr.HR_CODES)
    reasons = list(checked.reasons)
    fine = _fields_fine(data, {r["field"] for r in reasons})
    dated_on = parse_date(data[date_field]) if fine(date_field) else None
    person_id = data["person_id"] if fine("person_id") else None
    problem = person_id and resident_id_problem(person_id, not_after=dated_on or dt.date.max)
    if problem:
        reasons.append(_reason("PERSON_ID_INVALID", "person_id", f"identity number: {problem}"))
        person_id = None
    if fine("employer_uscc") and not uscc_is_valid(data["employer_uscc"]):
        reasons.append(_reason("EMPLOYER_USCC_INVALID", "employer_uscc", "check character"))
    entity = data["fiscal_entity_code"] if fine("fiscal_entity_code") else None
    if entity is not None and entity not in FISCAL_ENTITIES:
        reasons.append(_reason("ENTITY_UNKNOWN", "fiscal_entity_code",
                               f"{entity} is not one of the 15 fiscal entities"))
        entity = None
    return PersonnelEvent(
        kind, envelope.entity_id, entity or envelope.key or REGION_CODE, envelope.content_hash,
        person_id, entity, dated_on,
        amount_fen=parse_yuan(data["amount"]) if fine("amount") else None,
        document_no=data["document_no"] if fine("document_no") else None,
        reasons=tuple(cap_reasons(reasons, checked.more)))


def _fields_fine(data: Mapping[str, Any], faulted: set[Any]) -> Callable[[str], bool]:
    """Whether a field is there and passed the wire check, so its value can be read."""
    return lambda name: name in data and name not in faulted

