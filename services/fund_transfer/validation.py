"""Inbound events -> domain items or `Invalid` with every reason (pure: no I/O, no clock).

The contract models check the wire shape and map pydantic errors to reason codes; the checks
that need the account book (who may appropriate, which accounts exist) are added here, each for a
field the wire check did not already fault, so one rejection names every failing reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, TypeVar

from services.fund_transfer.model import (
    Appropriation,
    Budget,
    DeadlineCheck,
    Invalid,
    Item,
    Request,
    Rules,
    Settlement,
)
from shared.contracts import finance, transfer
from shared.contracts.assessment import ASSESSMENT_REQUESTED, AssessmentCommand, AssessmentRequested
from shared.contracts.fields import (
    Contract,
    DeadlineCheckRequested,
    cap_reasons,
    parse_date,
    validate_contract,
)
from shared.contracts.wire import echo_text
from shared.money import parse_yuan

DEADLINE_CHECK: Final = "ops.deadline_check.requested.v1"
COMMAND_CODES: Final = {"as_of": "DATE_INVALID", "period": "PERIOD_INVALID"}
M = TypeVar("M", bound=Contract)
_CONFLICT_KINDS: Final[dict[str, tuple[
        Literal["appropriation", "settlement", "request", "budget"], str]]] = {
    finance.APPROPRIATED: ("appropriation", "appropriation_id"),
    finance.BUDGETED: ("budget", "budget_id"),
    finance.SETTLED: ("settlement", "settlement_id"),
    finance.FAILED: ("settlement", "settlement_id"),
    transfer.REQUESTED: ("request", "request_id"),
}


def reason(code: str, field: str | None, message: str) -> dict[str, Any]:
    return {"code": code, "field": field, "message": message}


def parse(event_type: str, data: Mapping[str, Any], key: str, rules: Rules) -> Item:
    """One inbound event as a domain item; `key` is the record key, used for rejections."""
    parsers: dict[str, Callable[[Mapping[str, Any], str, Rules], Item]] = {
        finance.APPROPRIATED: parse_appropriation,
        finance.BUDGETED: parse_budget,
        finance.SETTLED: parse_settled,
        finance.FAILED: parse_failed,
        transfer.REQUESTED: parse_request,
        DEADLINE_CHECK: parse_command,
        ASSESSMENT_REQUESTED: parse_assessment,
    }
    return parsers[event_type](data, key, rules)


def _subsidy_source_reasons(data: Mapping[str, Any], reasons: list[dict[str, Any]],
                            rules: Rules) -> None:
    """Only the 14 league/city entities appropriate and are budgeted, never the region."""
    code = data.get("fiscal_entity_code")
    faulted = {r["field"] for r in reasons}
    if isinstance(code, str) and "fiscal_entity_code" not in faulted \
            and not rules.book.is_subsidy_source(code):
        reasons.append(reason("ENTITY_UNKNOWN", "fiscal_entity_code",
                              f"{code[:10]} is not one of the 14 league/city fiscal entities"))


def parse_budget(data: Mapping[str, Any], key: str, rules: Rules) -> Item:
    model, reasons = _validate(finance.SubsidyBudgeted, data, finance.BUDGET_CODES)
    _subsidy_source_reasons(data, reasons, rules)
    if model is None or reasons:
        return Invalid("budget", _text(data.get("budget_id")), key, reasons)
    return Budget(
        budget_id=model.budget_id, revision=model.revision,
        fiscal_entity_code=model.fiscal_entity_code, fund=model.fund, year=model.year,
        amount_per_month_fen=parse_yuan(model.amount_per_month), document_no=model.document_no,
    )


def parse_appropriation(data: Mapping[str, Any], key: str, rules: Rules) -> Item:
    model, reasons = _validate(finance.SubsidyAppropriated, data, finance.APPROPRIATION_CODES)
    _subsidy_source_reasons(data, reasons, rules)
    if model is None or reasons:
        return Invalid("appropriation", _text(data.get("appropriation_id")), key, reasons)
    return Appropriation(
        appropriation_id=model.appropriation_id, fiscal_entity_code=model.fiscal_entity_code,
        fund=model.fund, period=model.period, amount_fen=parse_yuan(model.amount_due),
        due_on=parse_date(model.due_on), document_no=model.document_no,
    )


def parse_settled(data: Mapping[str, Any], key: str, rules: Rules) -> Item:
    model, reasons = _validate(finance.TransferSettled, data, finance.SETTLEMENT_CODES)
    if model is None:
        return _invalid_settlement(data, key, reasons)
    return Settlement(
        settlement_id=model.settlement_id, notice_id=model.notice_id, outcome="settled",
        dated_on=parse_date(model.value_date), amount_fen=parse_yuan(model.amount_settled),
        bank_reference=model.bank_reference,
    )


def parse_failed(data: Mapping[str, Any], key: str, rules: Rules) -> Item:
    model, reasons = _validate(finance.TransferFailed, data, finance.SETTLEMENT_CODES)
    if model is None:
        return _invalid_settlement(data, key, reasons)
    return Settlement(
        settlement_id=model.settlement_id, notice_id=model.notice_id, outcome="failed",
        dated_on=parse_date(model.failed_on), reason=model.reason,
    )


def parse_request(data: Mapping[str, Any], key: str, rules: Rules) -> Item:
    model, reasons = _validate(transfer.TransferRequested, data, transfer.REQUEST_CODES)
    faulted = {r["field"] for r in reasons}
    for side in ("source", "target"):
        reasons.extend(_account_reasons(data.get(side), side, faulted, rules))
    if model is not None and not reasons and _account_ref(model.source) == _account_ref(
            model.target):
        reasons.append(reason("FIELD_INVALID", "target", "source and target are one account"))
    if model is None or reasons:
        return Invalid("request", _text(data.get("request_id")), key, reasons)
    return Request(
        request_id=model.request_id, purpose=model.purpose, fund=model.fund, period=model.period,
        amount_fen=parse_yuan(model.amount), source=_account_ref(model.source),
        target=_account_ref(model.target), due_on=parse_date(model.due_on),
    )


def parse_command(data: Mapping[str, Any], key: str, rules: Rules) -> Item:
    model, reasons = _validate(DeadlineCheckRequested, data, COMMAND_CODES)
    if model is None:
        return Invalid("command", _text(data.get("command_id")), key, reasons)
    return DeadlineCheck(command_id=model.command_id, as_of=parse_date(model.as_of))


def parse_assessment(data: Mapping[str, Any], key: str, rules: Rules) -> Item:
    model, reasons = _validate(AssessmentRequested, data, COMMAND_CODES)
    if model is None:
        return Invalid("command", _text(data.get("command_id")), key, reasons)
    return AssessmentCommand(command_id=model.command_id, period=model.period,
                             as_of=parse_date(model.as_of))


def conflict(event_type: str, data: Mapping[str, Any], key: str) -> Invalid | None:
    """A reused event id with other content: CONFLICTING_DUPLICATE where the type can say so.

    Commands have no such code in CONTRACTS.md; their conflicts stay in the inbox_conflict table.
    """
    if event_type not in _CONFLICT_KINDS:
        return None
    kind, id_field = _CONFLICT_KINDS[event_type]
    return Invalid(
        kind, _text(data.get(id_field)), key,
        [conflicting_duplicate(id_field, "this event id was already used with other content")],
        notice_id=_optional_text(data.get("notice_id")),
    )


def conflicting_duplicate(field: str, message: str) -> dict[str, Any]:
    return reason("CONFLICTING_DUPLICATE", field, message)


def _validate(
    model: type[M], data: Mapping[str, Any], codes: Mapping[str, str]
) -> tuple[M | None, list[dict[str, Any]]]:
    checked = validate_contract(model, data, codes, dotted=True)
    return checked.model, cap_reasons(checked.reasons, checked.more)


def _invalid_settlement(data: Mapping[str, Any], key: str, reasons: list[dict[str, Any]]) -> Item:
    return Invalid("settlement", _text(data.get("settlement_id")), key, reasons,
                   notice_id=_optional_text(data.get("notice_id")))


def _account_reasons(
    value: Any, side: str, faulted: set[str], rules: Rules
) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    code, kind = value.get("entity_code"), value.get("kind")
    if not isinstance(code, str) or f"{side}.entity_code" in faulted:
        return []
    if not rules.book.knows(code):
        return [reason("ENTITY_UNKNOWN", f"{side}.entity_code",
                       f"{code[:10]} is not a fiscal entity of the account book")]
    if isinstance(kind, str) and f"{side}.kind" not in faulted \
            and rules.book.account(code, kind) is None:
        return [reason("FIELD_INVALID", f"{side}.kind", f"{code} has no {kind[:20]} account")]
    return []


def _account_ref(ref: transfer.AccountRef) -> tuple[str, str]:
    return (ref.entity_code, ref.kind)


def _text(value: Any) -> str:
    """An entity id as text even when malformed (a number, say), to name it in the rejection."""
    return echo_text(value)


def _optional_text(value: Any) -> str | None:
    return echo_text(value) if isinstance(value, str) else None
