"""Checks of an enterprise annuity (企业年金) filing that need no stored state (docs/contracts.md).

Pure. The shape comes from the contract model; then the employer and region, the fee period, each
member's identity number and line number, and the one cap that a filing decides on its own: no
member's employer allocation above `member_allocation_ratio_max` times the period's average. The
plan year's caps and the back-fill rule need the employer's other filings and the members' basic
pension history: services/collection/domain/enterprise_annuity.py adds those reasons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, NamedTuple

from services.collection.rules import EnterpriseAnnuityCaps, Rules
from services.collection.validation import (
    Reason,
    check_employer_and_period,
    check_line_no,
    check_person,
    checked_fen,
    reason,
    split_failures,
)
from shared.contracts.fields import validate_contract
from shared.contracts.tax import (
    ENTERPRISE_ANNUITY_CODES,
    LINES_MAX,
    EnterpriseAnnuityDeclared,
)
from shared.money import format_yuan


class EnterpriseAnnuityLine(NamedTuple):
    line_no: int
    person_id: str
    employer_amount_fen: int
    employee_amount_fen: int
    account_established_on: dt.date | None


class EnterpriseAnnuityFiling(NamedTuple):
    """A filing whose figures could be read (whatever else is wrong with it)."""

    declaration_id: str
    revision: int
    employer_uscc: str
    region_code: str
    fiscal_entity_code: str
    fee_period: str
    declared_on: dt.date
    backfill: bool
    payroll_total_fen: int
    employer_total_fen: int
    employee_total_fen: int
    lines: list[EnterpriseAnnuityLine]
    caps: EnterpriseAnnuityCaps
    rule_version: str

    @property
    def plan_year(self) -> int:
        return int(self.fee_period[:4])


class EnterpriseAnnuityCheck(NamedTuple):
    """The verdict of the stateless checks; `filing` when the figures could be read."""

    declaration_id: str
    revision: int | None
    employer_uscc: str | None
    recordable: bool
    reasons: list[Reason]
    reasons_more: int
    filing: EnterpriseAnnuityFiling | None


def check_enterprise_annuity(
    data: Mapping[str, Any], entity_id: str, rules: Rules
) -> EnterpriseAnnuityCheck:
    lines = data.get("lines")
    line_count = len(lines) if isinstance(lines, list) else 0
    too_many = line_count > LINES_MAX
    shape_data = {k: v for k, v in data.items() if k != "lines"} if too_many else data
    checked = validate_contract(EnterpriseAnnuityDeclared, shape_data, ENTERPRISE_ANNUITY_CODES,
                                line_kind="line")
    reasons = checked.reasons
    header, by_line = split_failures(checked.failed)
    if too_many:
        reasons = [r for r in reasons if r["field"] != "lines"]
        reasons.append(reason("TOO_MANY_LINES", None, "lines",
                              f"{line_count} lines; at most {LINES_MAX} per filing"))
        header.add("lines")
    entity, caps = _check_header(data, header, rules, reasons)
    if isinstance(lines, list) and "lines" not in header:
        _check_lines(lines, by_line, data.get("declared_on") if "declared_on" not in header
                     else None, caps, reasons)
    filing = None
    if checked.model is not None and entity is not None and caps is not None:
        filing = _filing(checked.model, entity, caps, rules)
    reasons.sort(key=lambda r: (r["line_no"] is not None, r["line_no"] or 0))
    revision = data["revision"] if "revision" not in header else None
    return EnterpriseAnnuityCheck(
        declaration_id=entity_id,
        revision=revision,
        employer_uscc=data["employer_uscc"] if "employer_uscc" not in header else None,
        recordable="declaration_id" not in header and revision is not None,
        reasons=reasons,
        reasons_more=checked.more,
        filing=filing,
    )


def _check_header(
    data: Mapping[str, Any], failed: set[str], rules: Rules, reasons: list[Reason]
) -> tuple[str | None, EnterpriseAnnuityCaps | None]:
    def well_formed(field: str) -> Any:
        return data.get(field) if field not in failed else None

    entity = check_employer_and_period(data, failed, rules, reasons)
    fee_period = well_formed("fee_period")
    caps = rules.enterprise_annuity_caps_for(fee_period) if fee_period is not None else None
    if fee_period is not None and caps is None:
        reasons.append(reason("SCHEME_NOT_CONFIGURED", None, "fee_period",
                              f"no enterprise annuity caps configured for {fee_period}"))
    payroll = well_formed("payroll_total")
    if payroll is not None and checked_fen(payroll) == 0:
        reasons.append(reason("AMOUNT_INVALID", None, "payroll_total",
                              "the payroll total must be more than 0.00"))
    return entity, caps


def _filing(model: EnterpriseAnnuityDeclared, entity: str, caps: EnterpriseAnnuityCaps,
            rules: Rules) -> EnterpriseAnnuityFiling:
    lines = [
        EnterpriseAnnuityLine(
            line.line_no, line.person_id, checked_fen(line.employer_amount),
            checked_fen(line.employee_amount),
            dt.date.fromisoformat(line.account_established_on)
            if line.account_established_on is not None else None)
        for line in model.lines
    ]
    return EnterpriseAnnuityFiling(
        declaration_id=model.declaration_id, revision=model.revision,
        employer_uscc=model.employer_uscc, region_code=model.region_code,
        fiscal_entity_code=entity, fee_period=model.fee_period,
        declared_on=dt.date.fromisoformat(model.declared_on), backfill=model.backfill,
        payroll_total_fen=checked_fen(model.payroll_total),
        employer_total_fen=sum(line.employer_amount_fen for line in lines),
        employee_total_fen=sum(line.employee_amount_fen for line in lines),
        lines=lines, caps=caps, rule_version=rules.version_of(caps.layer),
    )


def _check_lines(lines: list[Any], bad_by_line: dict[int, set[str]], declared_on: str | None,
                 caps: EnterpriseAnnuityCaps | None, reasons: list[Reason]) -> None:
    """Line numbers, identity numbers and repeats for every field that passed the shape; then,
    when every employer amount did, no member above the allocation cap."""
    line_nos: set[int] = set()
    people: set[str] = set()
    not_after = dt.date.fromisoformat(declared_on) if declared_on else dt.date.max
    amounts: list[tuple[int, int]] = []  # (line_no, employer fen)
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            continue
        bad = bad_by_line.get(index, set())
        line_no = line.get("line_no")
        tag = line_no if type(line_no) is int else None
        if tag is not None and "line_no" not in bad:
            check_line_no(tag, len(lines), line_nos, reasons)
        if "person_id" in line and "person_id" not in bad:
            check_person(line["person_id"], tag, not_after, people, reasons)
        if "employer_amount" in line and "employer_amount" not in bad and tag is not None:
            amounts.append((tag, checked_fen(line["employer_amount"])))
    if caps is None or len(amounts) != len(lines):
        return
    total_fen = sum(fen for _, fen in amounts)
    ratio = caps.member_allocation_ratio_max
    for line_no, fen in amounts:
        # amount > ratio x (total / count), in integers: amount x count > ratio x total.
        if fen * len(amounts) > ratio * total_fen:
            reasons.append(reason(
                "MEMBER_ALLOCATION_OVER_CAP", line_no, "employer_amount",
                f"employer allocation {format_yuan(fen)} yuan is more than {ratio} times the "
                f"period's average of {format_yuan(total_fen // len(amounts))} yuan",
            ))
