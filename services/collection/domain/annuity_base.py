"""The occupational annuity's data check against the basic pension (policy 二(四)13: 各地做好与基本
养老保险数据比对).

Pure. For one employer and fee period: each occupational annuity line's base must equal the same
person's basic-pension base (institution_basic or enterprise_basic) of that period and employer.
A line whose base differs is a BASE_MISMATCH finding; one with no basic-pension line yet is a
BASIC_PENSION_MISSING finding. Findings are events, not rejections: the two declarations may
arrive in either order, so a finding opens, changes and resolves as the data come in.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from shared.contracts.collection import ANNUITY_BASE_FINDING, ANNUITY_BASE_RESOLVED
from shared.ids import NAMESPACE
from shared.money import format_yuan

ANNUITY: Final = "occupational_annuity"
BASIC_SCHEMES: Final = frozenset({"institution_basic", "enterprise_basic"})
Kind = Literal["BASE_MISMATCH", "BASIC_PENSION_MISSING"]


@dataclass(frozen=True, slots=True)
class PeriodLine:
    """A line of a registered declaration's current revision."""

    declaration_id: str
    scheme: str
    fiscal_entity_code: str
    line_no: int
    person_id: str
    base_fen: int


@dataclass(frozen=True, slots=True)
class Finding:
    """What is wrong with one person's annuity line of one employer and period."""

    finding_id: str
    employer_uscc: str
    fee_period: str
    person_id: str
    fiscal_entity_code: str
    kind: Kind
    annuity_declaration_id: str
    annuity_line_no: int
    annuity_base_fen: int
    basic_declaration_id: str | None
    basic_base_fen: int | None


@dataclass(slots=True)
class Comparison:
    """The findings to store (opened, changed or resolved) and the events that say so."""

    opened: list[Finding] = field(default_factory=list)
    resolved: list[tuple[str, int | None]] = field(default_factory=list)  # finding id, base
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # type, data


def finding_id(employer_uscc: str, fee_period: str, person_id: str) -> str:
    """Deterministic: re-processing finds the same finding (uuid5 in the project's namespace)."""
    return str(uuid.uuid5(NAMESPACE, f"annuity-base/{employer_uscc}/{fee_period}/{person_id}"))


def compare(employer_uscc: str, fee_period: str, lines: Sequence[PeriodLine],
            open_findings: dict[str, Finding], rule_version: str) -> Comparison:
    """Findings of one employer and period, against the ones open before; `open_findings` is by
    person id."""
    basic: dict[str, list[PeriodLine]] = {}
    annuity: dict[str, PeriodLine] = {}
    for line in sorted(lines, key=lambda x: (x.declaration_id, x.line_no)):
        if line.scheme in BASIC_SCHEMES:
            basic.setdefault(line.person_id, []).append(line)
        elif line.scheme == ANNUITY:
            annuity.setdefault(line.person_id, line)
    result = Comparison()
    for person_id, line in annuity.items():
        found = _finding(employer_uscc, fee_period, line, basic.get(person_id, []))
        before = open_findings.get(person_id)
        if found is not None and found != before:
            result.opened.append(found)
            result.events.append((ANNUITY_BASE_FINDING, finding_data(found, rule_version)))
        elif found is None and before is not None:
            result.resolved.append((before.finding_id, line.base_fen))
            result.events.append((ANNUITY_BASE_RESOLVED,
                                  resolved_data(before, line.base_fen, rule_version)))
    for person_id, before in open_findings.items():
        if person_id not in annuity:  # the annuity line went with a revision
            result.resolved.append((before.finding_id, None))
            result.events.append((ANNUITY_BASE_RESOLVED, resolved_data(before, None,
                                                                       rule_version)))
    return result


def _finding(employer_uscc: str, fee_period: str, line: PeriodLine,
             basic: list[PeriodLine]) -> Finding | None:
    if any(b.base_fen == line.base_fen for b in basic):
        return None
    first = basic[0] if basic else None
    return Finding(
        finding_id=finding_id(employer_uscc, fee_period, line.person_id),
        employer_uscc=employer_uscc, fee_period=fee_period, person_id=line.person_id,
        fiscal_entity_code=line.fiscal_entity_code,
        kind="BASE_MISMATCH" if first is not None else "BASIC_PENSION_MISSING",
        annuity_declaration_id=line.declaration_id, annuity_line_no=line.line_no,
        annuity_base_fen=line.base_fen,
        basic_declaration_id=first.declaration_id if first else None,
        basic_base_fen=first.base_fen if first else None,
    )


def finding_data(finding: Finding, rule_version: str) -> dict[str, Any]:
    """`collection.annuity_base.finding.v1`."""
    return {
        "finding_id": finding.finding_id, "kind": finding.kind,
        "employer_uscc": finding.employer_uscc,
        "fiscal_entity_code": finding.fiscal_entity_code, "fee_period": finding.fee_period,
        "person_id": finding.person_id,
        "annuity_declaration_id": finding.annuity_declaration_id,
        "annuity_line_no": finding.annuity_line_no,
        "annuity_base": format_yuan(finding.annuity_base_fen),
        "basic_declaration_id": finding.basic_declaration_id,
        "basic_base": (format_yuan(finding.basic_base_fen)
                       if finding.basic_base_fen is not None else None),
        "rule_version": rule_version,
    }


def resolved_data(finding: Finding, base_fen: int | None, rule_version: str) -> dict[str, Any]:
    """`collection.annuity_base.resolved.v1`."""
    return {
        "finding_id": finding.finding_id, "employer_uscc": finding.employer_uscc,
        "fiscal_entity_code": finding.fiscal_entity_code, "fee_period": finding.fee_period,
        "person_id": finding.person_id,
        "base": format_yuan(base_fen) if base_fen is not None else None,
        "rule_version": rule_version,
    }


@dataclass(frozen=True, slots=True)
class Registration:
    """An annuity or basic-pension declaration registered in a segment: its new current lines,
    and the index of the event that registered it."""

    employer_uscc: str
    fee_period: str
    declaration_id: str
    lines: tuple[PeriodLine, ...]
    cause: int


def compare_in_order(
    registrations: Sequence[Registration], lines: dict[tuple[str, str], list[PeriodLine]],
    open_findings: dict[tuple[str, str], dict[str, Finding]], rule_version: str,
) -> tuple[list[tuple[int, str, dict[str, Any]]], Comparison]:
    """Compare after each registration, in order, from the lines and findings as they were
    before the segment: the events (cause, type, data) are those the registrations would give
    in batches of their own, wherever a batch ends. Returns them and what to store: every
    finding opened, and every finding open before or opened since that is no longer open."""
    lines = {pair: list(found) for pair, found in lines.items()}
    now = {pair: dict(found) for pair, found in open_findings.items()}
    before = {f.finding_id for found in open_findings.values() for f in found.values()}
    opened: dict[str, Finding] = {}
    events: list[tuple[int, str, dict[str, Any]]] = []
    for registration in registrations:
        pair = (registration.employer_uscc, registration.fee_period)
        lines[pair] = [line for line in lines.get(pair, [])
                       if line.declaration_id != registration.declaration_id]
        lines[pair] += registration.lines
        comparison = compare(*pair, lines[pair], now.get(pair, {}), rule_version)
        current = now.setdefault(pair, {})
        gone = {finding_id for finding_id, _ in comparison.resolved}
        for person_id in [p for p, f in current.items() if f.finding_id in gone]:
            del current[person_id]
        for finding in comparison.opened:
            current[finding.person_id] = opened[finding.finding_id] = finding
        events += [(registration.cause, event_type, data)
                   for event_type, data in comparison.events]
    still_open = {f.finding_id for found in now.values() for f in found.values()}
    return events, Comparison(
        opened=list(opened.values()),
        resolved=[(finding_id, None) for finding_id in sorted((before | set(opened))
                                                              - still_open)])
