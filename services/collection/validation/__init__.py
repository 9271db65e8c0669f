"""Checks of inbound declarations and payments: every failing check, named once, in one pass.

Pure (no I/O, clock or logging). The wire shape comes from the contract models
(shared/contracts/tax.py) mapped to reason codes; the rules of DOMAIN.md run on the raw `data`
for every field the shape check passed, so one rejection names the malformed fields and the
business failures of every line together. This is the hot path: a line costs a few dict look-ups,
one checksum and integer arithmetic; the pydantic model validates the whole declaration at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from services.collection.rules import BaseBounds, Rates, Rules
from shared.contracts.assessment import AssessmentRequested
from shared.contracts.fields import (
    DeadlineCheckRequested,
    cap_reasons,
    validate_contract,
)
from shared.contracts.tax import (
    DECLARATION_CODES,
    LINES_MAX,
    PAYMENT_CODES,
    DeclarationDeclared,
    PaymentPaid,
)
from shared.contracts.wire import echo_text
from shared.ids import resident_id_problem, uscc_is_valid
from shared.money import BASIS_POINTS_PER_UNIT, format_yuan, parse_yuan

Reason = dict[str, Any]
ANNUITY: Final = "occupational_annuity"
_WHOLE: Final = "*"  # a flag for a line that is not an object at all


class Line(NamedTuple):
    """A checked line: identity number in clear (never logged), amounts in fen.

    NamedTuples here rather than frozen dataclasses: they are built once per line and per
    declaration on the hot path, and a frozen dataclass costs a setattr call per field.
    """

    line_no: int
    person_id: str
    person_name: str
    base_fen: int
    employer_amount_fen: int
    employee_amount_fen: int


class Figures(NamedTuple):
    """What collection keeps of a registered revision (the `declaration` row)."""

    revision: int
    employer_uscc: str
    region_code: str
    fiscal_entity_code: str
    scheme: str
    unit_funding: str | None
    fee_period: str
    declared_on: dt.date
    due_on: dt.date
    line_count: int
    base_total_fen: int
    employer_total_fen: int
    employee_total_fen: int
    amount_due_fen: int
    rule_version: str


class Declaration(NamedTuple):
    """A declaration that passed every check, with the figures the rules give it."""

    declaration_id: str
    employer_name: str
    figures: Figures
    lines: list[Line]
    wire_lines: list[Mapping[str, Any]]


class DeclarationCheck(NamedTuple):
    """The verdict on one declaration; `recordable` when its id and revision are well-formed.

    `reasons_more` counts reasons too many to itemise (CONTRACTS.md, at most 1,000 per rejection).
    """

    declaration_id: str
    revision: int | None
    employer_uscc: str | None
    recordable: bool
    reasons: list[Reason]
    declaration: Declaration | None
    reasons_more: int = 0


class Payment(NamedTuple):
    payment_id: str
    declaration_id: str
    e_tax_voucher_no: str
    amount_paid_fen: int
    paid_on: dt.date


class PaymentCheck(NamedTuple):
    """The verdict on one payment; `recordable` when its payment id is well-formed."""

    payment_id: str
    declaration_id: str | None
    recordable: bool
    reasons: list[Reason]
    payment: Payment | None


def reason(code: str, line_no: int | None, field: str | None, message: str) -> Reason:
    return {"code": code, "line_no": line_no, "field": field, "message": message}


class _Shape:
    """The contract model's verdict: reasons, and which fields (per line) failed it.

    A declaration of more than LINES_MAX lines is checked without its lines (CONTRACTS.md,
    bounded work): its header gets every reason, the lines one TOO_MANY_LINES.
    """

    __slots__ = ("by_line", "header", "more", "reasons", "too_many_lines")

    def __init__(self, data: Mapping[str, Any]) -> None:
        lines = data.get("lines")
        line_count = len(lines) if isinstance(lines, list) else 0
        self.too_many_lines = line_count > LINES_MAX
        if self.too_many_lines:
            data = {name: value for name, value in data.items() if name != "lines"}
        checked = validate_contract(DeclarationDeclared, data, DECLARATION_CODES,
                                    line_kind="line")
        self.reasons, self.more = checked.reasons, checked.more
        self.header, self.by_line = split_failures(checked.failed)
        if self.too_many_lines:
            self.header.add("lines")
            self.reasons = [r for r in self.reasons if r["field"] != "lines"]
            self.reasons.append(reason("TOO_MANY_LINES", None, "lines",
                                       f"{line_count} lines; at most {LINES_MAX} per declaration"))


def split_failures(
    locations: list[tuple[int | str, ...]],
) -> tuple[set[str], dict[int, set[str]]]:
    """Which header fields failed the shape, and which fields of each line (by index)."""
    header: set[str] = set()
    by_line: dict[int, set[str]] = {}
    for location in locations:
        if location[0] == "lines" and len(location) > 1 and isinstance(location[1], int):
            field = str(location[2]) if len(location) > 2 else _WHOLE
            by_line.setdefault(location[1], set()).add(field)
        else:
            header.add(str(location[0]))
    return header, by_line


class _Header(NamedTuple):
    """The header fields a line check needs, None where they failed a check."""

    declared_on: dt.date | None
    fee_period: str | None
    rates: Rates | None
    bounds: BaseBounds | None
    fiscal_entity_code: str | None


def check_declaration(data: Mapping[str, Any], entity_id: str, rules: Rules) -> DeclarationCheck:
    """Every failing check of a declaration; a `Declaration` with its figures when none fails."""
    shape = _Shape(data)
    reasons = shape.reasons
    header = _check_header(data, shape.header, rules, reasons)
    lines = data.get("lines")
    checked: list[Line] = []
    if isinstance(lines, list) and "lines" not in shape.header:
        checked = _check_lines(lines, shape.by_line, header, reasons)
    revision = data["revision"] if "revision" not in shape.header else None
    uscc = data.get("employer_uscc")
    declaration = None
    if reasons:
        # Declaration-level reasons first, then by line; stable, so each line keeps its order.
        reasons.sort(key=lambda r: (r["line_no"] is not None, r["line_no"] or 0))
    else:
        declaration = _declaration(data, checked, header, rules)
    return DeclarationCheck(
        declaration_id=entity_id,
        revision=revision,
        employer_uscc=uscc if "employer_uscc" not in shape.header else None,
        recordable="declaration_id" not in shape.header and revision is not None,
        reasons=reasons,
        declaration=declaration,
        reasons_more=shape.more,
    )


def _check_header(
    data: Mapping[str, Any], flagged: set[str], rules: Rules, reasons: list[Reason]
) -> _Header:
    def well_formed(field: str) -> Any:
        return data.get(field) if field not in flagged else None

    declared_on_text, fee_period = well_formed("declared_on"), well_formed("fee_period")
    declared_on = dt.date.fromisoformat(declared_on_text) if declared_on_text else None
    entity = check_employer_and_period(data, flagged, rules, reasons)
    scheme = well_formed("scheme")
    if scheme is not None and "unit_funding" not in flagged:
        _check_unit_funding(scheme, data.get("unit_funding"), reasons)
    rates, bounds = _configured(scheme, fee_period, rules, reasons)
    return _Header(declared_on, fee_period, rates, bounds, entity)


def check_employer_and_period(
    data: Mapping[str, Any], flagged: set[str], rules: Rules, reasons: list[Reason]
) -> str | None:
    """The checks every filing of an employer shares: the USCC's check character, the region
    (its fiscal entity is returned), a fee period no later than the month it was declared in.
    Fields in `flagged` already failed the shape and are not checked again."""
    def well_formed(field: str) -> Any:
        return data.get(field) if field not in flagged else None

    uscc, region_code = well_formed("employer_uscc"), well_formed("region_code")
    if uscc is not None and not uscc_is_valid(uscc):
        reasons.append(reason("EMPLOYER_USCC_INVALID", None, "employer_uscc",
                              "check character does not match (GB 32100-2015)"))
    entity = rules.fiscal_entities.entity_of(region_code) if region_code is not None else None
    if region_code is not None and entity is None:
        reasons.append(reason("REGION_UNKNOWN", None, "region_code",
                              f"{region_code} is not a region code of Inner Mongolia"))
    fee_period, declared_on = well_formed("fee_period"), well_formed("declared_on")
    if fee_period is not None and declared_on is not None and fee_period > declared_on[:7]:
        reasons.append(reason("PERIOD_INVALID", None, "fee_period",
                              f"fee period {fee_period} is later than the month of declared_on"))
    return entity


def _configured(
    scheme: str | None, fee_period: str | None, rules: Rules, reasons: list[Reason]
) -> tuple[Rates | None, BaseBounds | None]:
    """The rates and base bounds the rule set has for this period, a reason for each it lacks."""
    if fee_period is None:
        return None, None
    rates = rules.rates_for(scheme, fee_period) if scheme is not None else None
    if scheme is not None and rates is None:
        reasons.append(reason("SCHEME_NOT_CONFIGURED", None, "scheme",
                              f"no {scheme} rates configured for fee period {fee_period}"))
    bounds = rules.bounds_for(int(fee_period[:4]))
    if bounds is None:
        reasons.append(reason("BASE_BOUNDS_NOT_CONFIGURED", None, "fee_period",
                              f"no base floor and cap configured for {fee_period[:4]}"))
    return rates, bounds


def _check_unit_funding(scheme: str, unit_funding: Any, reasons: list[Reason]) -> None:
    if scheme == ANNUITY and unit_funding is None:
        reasons.append(reason("UNIT_FUNDING_INVALID", None, "unit_funding",
                              "occupational_annuity needs unit_funding treasury_full or self"))
    elif scheme != ANNUITY and unit_funding is not None:
        reasons.append(reason("UNIT_FUNDING_INVALID", None, "unit_funding",
                              f"unit_funding is for occupational_annuity only, not {scheme}"))


_NOTHING_BAD: Final[frozenset[str]] = frozenset()


def _check_lines(
    lines: list[Any], bad_by_line: dict[int, set[str]], header: _Header, reasons: list[Reason]
) -> list[Line]:
    """Business checks of every line; the checked lines (complete only when no reason)."""
    checked: list[Line] = []
    line_nos: set[int] = set()
    person_ids: set[str] = set()
    not_after = header.declared_on or dt.date.max
    count = len(lines)
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            continue
        bad = bad_by_line.get(index, _NOTHING_BAD)
        line_no = line.get("line_no")
        tag = line_no if type(line_no) is int else None
        if tag is not None and "line_no" not in bad:
            check_line_no(tag, count, line_nos, reasons)
        if "person_id" in line and "person_id" not in bad:
            check_person(line["person_id"], tag, not_after, person_ids, reasons)
        if "base" in line and "base" not in bad:
            checked.append(_check_amounts(line, tag, header, reasons, bad))
    return checked


def check_line_no(line_no: int, count: int, seen: set[int], reasons: list[Reason]) -> None:
    if line_no > count:
        reasons.append(reason("LINE_NUMBER_INVALID", line_no, "line_no",
                              f"line_no must be within 1..{count} (the number of lines)"))
    elif line_no in seen:
        reasons.append(reason("LINE_NUMBER_INVALID", line_no, "line_no",
                              "line_no repeats an earlier line"))
    seen.add(line_no)


def check_person(
    person_id: str, line_no: int | None, not_after: dt.date, seen: set[str], reasons: list[Reason]
) -> None:
    problem = resident_id_problem(person_id, not_after=not_after)
    if problem is not None:  # the number itself never goes into a message: messages get logged
        reasons.append(reason("PERSON_ID_INVALID", line_no, "person_id",
                              f"resident identity number invalid: {problem}"))
    if person_id in seen:
        reasons.append(reason("PERSON_DUPLICATED", line_no, "person_id",
                              "the same person is on an earlier line of this declaration"))
    seen.add(person_id)


def checked_fen(text: str) -> int:
    """Fen of a money string the contract model accepted (MONEY_PATTERN: ASCII digits, exactly
    two decimals): all that is left is to drop the point. Much cheaper than a second full parse
    (shared.money.parse_yuan) per amount on the hot path; tests pin that they agree."""
    return int(text.replace(".", "", 1))


def share_fen(base_fen: int, rate_bp: int) -> int:
    """base x rate half-up to the fen, as shared.money.amount_for_rate, minus its type checks
    (the inputs are checked ints here); tests pin that the two agree."""
    return (base_fen * rate_bp * 2 + BASIS_POINTS_PER_UNIT) // (2 * BASIS_POINTS_PER_UNIT)


def _check_amounts(
    line: Mapping[str, Any],
    line_no: int | None,
    header: _Header,
    reasons: list[Reason],
    bad: frozenset[str] | set[str],
) -> Line:
    """Base within the year's bounds; each side equal to base x rate, half-up to the fen."""
    base_fen = checked_fen(line["base"])
    bounds = header.bounds
    if bounds is not None and not bounds.base_floor_fen <= base_fen <= bounds.base_cap_fen:
        reasons.append(reason(
            "BASE_OUT_OF_RANGE", line_no, "base",
            f"base {line['base']} is outside {format_yuan(bounds.base_floor_fen)}.."
            f"{format_yuan(bounds.base_cap_fen)} yuan of {str(header.fee_period)[:4]}",
        ))
    amounts = [0, 0]
    rates = header.rates
    for side, field in enumerate(_SIDES):
        if field in bad or field not in line:
            continue
        amounts[side] = checked_fen(line[field])
        if rates is None:
            continue
        rate_bp = rates.employee_rate_bp if side else rates.employer_rate_bp
        expected_fen = share_fen(base_fen, rate_bp)
        if amounts[side] != expected_fen:
            reasons.append(reason(
                "AMOUNT_MISMATCH", line_no, field,
                f"expected {format_yuan(expected_fen)} yuan (base {line['base']} x "
                f"{rate_bp // 100}.{rate_bp % 100:02d}%), declared {line[field]}",
            ))
    return Line(line_no or 0, line.get("person_id", ""), line.get("person_name", ""),
                base_fen, amounts[0], amounts[1])


_SIDES: Final = ("employer_amount", "employee_amount")


def _declaration(
    data: Mapping[str, Any], lines: list[Line], header: _Header, rules: Rules
) -> Declaration:
    """Figures of a declaration with no failing check (so the header has every lookup)."""
    rates, bounds, fee_period = header.rates, header.bounds, data["fee_period"]
    assert rates is not None
    assert bounds is not None
    assert header.fiscal_entity_code is not None
    assert header.declared_on is not None
    due_on, due_layer = rules.due_on(fee_period)
    employer_total = sum(line.employer_amount_fen for line in lines)
    employee_total = sum(line.employee_amount_fen for line in lines)
    unit_funding = data.get("unit_funding")
    figures = Figures(
        revision=data["revision"],
        employer_uscc=data["employer_uscc"],
        region_code=data["region_code"],
        fiscal_entity_code=header.fiscal_entity_code,
        scheme=data["scheme"],
        unit_funding=unit_funding,
        fee_period=fee_period,
        declared_on=header.declared_on,
        due_on=due_on,
        line_count=len(lines),
        base_total_fen=sum(line.base_fen for line in lines),
        employer_total_fen=employer_total,
        employee_total_fen=employee_total,
        amount_due_fen=amount_due_fen(unit_funding, employer_total, employee_total),
        rule_version=rules.version_of(max(rates.layer, bounds.layer, due_layer)),
    )
    return Declaration(data["declaration_id"], data["employer_name"], figures, lines,
                       data["lines"])


def amount_due_fen(
    unit_funding: str | None, employer_total_fen: int, employee_total_fen: int
) -> int:
    """Both sides are due, except that a treasury-funded unit share is notional (记账), not paid."""
    if unit_funding == "treasury_full":
        return employee_total_fen
    return employer_total_fen + employee_total_fen


def check_payment(data: Mapping[str, Any], entity_id: str) -> PaymentCheck:
    """Every failing check of a payment; a `Payment` in fen when none fails."""
    checked = validate_contract(PaymentPaid, data, PAYMENT_CODES)
    reasons = cap_reasons(checked.reasons, checked.more)
    flagged = {str(location[0]) for location in checked.failed}
    if "amount_paid" not in flagged and parse_yuan(data["amount_paid"]) == 0:
        reasons.append({"code": "AMOUNT_INVALID", "field": "amount_paid",
                        "message": "a payment must be more than 0.00"})
    declaration_id = data.get("declaration_id")
    check = PaymentCheck(
        payment_id=entity_id,
        declaration_id=echo_text(declaration_id) if isinstance(declaration_id, str) else None,
        recordable="payment_id" not in flagged,
        reasons=reasons,
        payment=None,
    )
    if reasons:
        return check
    payment = Payment(data["payment_id"], data["declaration_id"], data["e_tax_voucher_no"],
                      parse_yuan(data["amount_paid"]), dt.date.fromisoformat(data["paid_on"]))
    return check._replace(payment=payment)


class CommandCheck(NamedTuple):
    """The verdict on a command (a deadline check or an assessment): its as_of date (and the
    assessed period), or reasons."""

    command_id: str
    as_of: dt.date | None
    reasons: list[dict[str, Any]]
    period: str | None = None


COMMAND_CODES: Final = {"as_of": "DATE_INVALID", "period": "PERIOD_INVALID"}


def check_deadline_command(data: Mapping[str, Any], entity_id: str) -> CommandCheck:
    checked = validate_contract(DeadlineCheckRequested, data, COMMAND_CODES)
    if checked.model is None:
        return CommandCheck(entity_id, None, cap_reasons(checked.reasons, checked.more))
    return CommandCheck(checked.model.command_id, dt.date.fromisoformat(checked.model.as_of), [])


def check_assessment_command(data: Mapping[str, Any], entity_id: str) -> CommandCheck:
    checked = validate_contract(AssessmentRequested, data, COMMAND_CODES)
    if checked.model is None:
        return CommandCheck(entity_id, None, cap_reasons(checked.reasons, checked.more))
    model = checked.model
    return CommandCheck(model.command_id, dt.date.fromisoformat(model.as_of), [], model.period)
