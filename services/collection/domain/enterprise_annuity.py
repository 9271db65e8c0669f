"""Enterprise annuity (企业年金) filings: revisions, the plan year's caps and the back-fill rule.

Pure. The handler loads what a batch's filings touch (their revisions, their current rows, the
employers' plan-year totals, the members' first basic-pension periods) into an `EnterpriseBook`;
the book decides each filing in consumption order, so two filings of one employer in one batch
see each other's figures, and returns the rows to write and the events to publish.

Caps (rules, 人社部令第36号): over the plan year (the calendar year of the fee period) the
employer's contributions at most 8% of payroll and employer + employee at most 12%; computed on
the employer's current registered filings of the year, this one replacing its earlier revision.
Back-fill (补建, policy 二(四)11): a back-fill period may not be earlier than the member's basic
pension account: the stated `account_established_on`, else the first basic-pension fee period
this system has seen for the person; with neither, the filing cannot be checked and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from services.collection.domain import Emit
from services.collection.validation import Reason, reason
from services.collection.validation.enterprise_annuity import (
    EnterpriseAnnuityCheck,
    EnterpriseAnnuityFiling,
)
from shared.contracts.collection import ENTERPRISE_ANNUITY_REGISTERED, ENTERPRISE_ANNUITY_REJECTED
from shared.contracts.fields import cap_reasons
from shared.money import BASIS_POINTS_PER_UNIT, format_yuan

CONFLICT_MESSAGE: Final = "this filing's revision was already received with other content"


@dataclass(frozen=True, slots=True)
class Totals:
    """Money of a set of filings, in fen."""

    payroll_fen: int = 0
    employer_fen: int = 0
    employee_fen: int = 0

    def plus(self, other: Totals) -> Totals:
        return Totals(self.payroll_fen + other.payroll_fen,
                      self.employer_fen + other.employer_fen,
                      self.employee_fen + other.employee_fen)

    def minus(self, other: Totals) -> Totals:
        return Totals(self.payroll_fen - other.payroll_fen,
                      self.employer_fen - other.employer_fen,
                      self.employee_fen - other.employee_fen)

    @staticmethod
    def of(filing: EnterpriseAnnuityFiling) -> Totals:
        return Totals(filing.payroll_total_fen, filing.employer_total_fen,
                      filing.employee_total_fen)


@dataclass(frozen=True, slots=True)
class CurrentFiling:
    """A filing id's registered revision, as stored."""

    revision: int
    employer_uscc: str
    plan_year: int
    totals: Totals


@dataclass(slots=True)
class EnterpriseBook:
    """What a batch's filings touch, and every change and event they cause."""

    revisions: dict[tuple[str, int], bytes]
    current: dict[str, CurrentFiling]
    year_totals: dict[tuple[str, int], Totals]
    first_basic_period: dict[str, str]
    emits: list[Emit] = field(default_factory=list)
    new_revisions: list[tuple[str, int, bytes, str]] = field(default_factory=list)
    registered: list[EnterpriseAnnuityFiling] = field(default_factory=list)
    rejected_ids: set[str] = field(default_factory=set)

    def file(self, check: EnterpriseAnnuityCheck, content_hash: bytes, cause: int,
             record_key: str | None) -> None:
        key = check.employer_uscc or record_key or check.declaration_id
        if not check.recordable or check.revision is None:
            self._reject(check, check.reasons, key, cause)
            return
        pair = (check.declaration_id, check.revision)
        seen = self.revisions.get(pair)
        if seen == content_hash:
            return  # the same revision again under another event id: already answered
        if seen is not None:
            conflict = reason("CONFLICTING_DUPLICATE", None, "revision", CONFLICT_MESSAGE)
            self._reject(check, [*check.reasons, conflict], key, cause)
            return
        reasons = [*check.reasons, *self._stale(check)]
        if check.filing is not None:
            reasons += self._caps(check.filing) + self._backfill(check.filing)
        self.revisions[pair] = content_hash
        outcome = "rejected" if reasons or check.filing is None else "registered"
        self.new_revisions.append((*pair, content_hash, outcome))
        if outcome == "rejected":
            if check.declaration_id not in self.current:
                self.rejected_ids.add(check.declaration_id)
            self._reject(check, reasons, key, cause)
        else:
            assert check.filing is not None
            self._register(check.filing, cause)

    def _stale(self, check: EnterpriseAnnuityCheck) -> list[Reason]:
        current = self.current.get(check.declaration_id)
        if current is None or check.revision is None or check.revision > current.revision:
            return []
        return [reason("REVISION_STALE", None, "revision",
                       f"revision {check.revision} is not above the current revision "
                       f"{current.revision}")]

    def _plan_year(self, filing: EnterpriseAnnuityFiling) -> Totals:
        """The employer's plan year with this filing in place of its current revision."""
        totals = self.year_totals.get((filing.employer_uscc, filing.plan_year), Totals())
        current = self.current.get(filing.declaration_id)
        if current is not None and (current.employer_uscc, current.plan_year) == (
                filing.employer_uscc, filing.plan_year):
            totals = totals.minus(current.totals)
        return totals.plus(Totals.of(filing))

    def _caps(self, filing: EnterpriseAnnuityFiling) -> list[Reason]:
        year = self._plan_year(filing)
        caps = filing.caps
        found = []
        if year.employer_fen * BASIS_POINTS_PER_UNIT > caps.employer_cap_bp * year.payroll_fen:
            found.append(reason(
                "EMPLOYER_SHARE_OVER_CAP", None, "lines",
                f"employer contributions {format_yuan(year.employer_fen)} yuan over plan year "
                f"{filing.plan_year} exceed {_percent(caps.employer_cap_bp)} of its payroll "
                f"{format_yuan(year.payroll_fen)} yuan"))
        combined_fen = year.employer_fen + year.employee_fen
        if combined_fen * BASIS_POINTS_PER_UNIT > caps.total_cap_bp * year.payroll_fen:
            found.append(reason(
                "TOTAL_SHARE_OVER_CAP", None, "lines",
                f"employer and employee contributions {format_yuan(combined_fen)} yuan over plan "
                f"year {filing.plan_year} exceed {_percent(caps.total_cap_bp)} of its payroll "
                f"{format_yuan(year.payroll_fen)} yuan"))
        return found

    def _backfill(self, filing: EnterpriseAnnuityFiling) -> list[Reason]:
        if not filing.backfill:
            return []
        found = []
        for line in filing.lines:
            stated = line.account_established_on
            account_period = (stated.isoformat()[:7] if stated is not None
                              else self.first_basic_period.get(line.person_id))
            if account_period is None:
                found.append(reason(
                    "BACKFILL_ACCOUNT_UNKNOWN", line.line_no, "account_established_on",
                    "no basic-pension period of this person is known and no "
                    "account_established_on is stated"))
            elif filing.fee_period < account_period:
                found.append(reason(
                    "BACKFILL_BEFORE_ACCOUNT", line.line_no, "fee_period",
                    f"back-fill period {filing.fee_period} is earlier than the person's "
                    f"basic-pension account ({account_period})"))
        return found

    def _register(self, filing: EnterpriseAnnuityFiling, cause: int) -> None:
        previous = self.current.get(filing.declaration_id)
        year = self._plan_year(filing)
        self.year_totals[(filing.employer_uscc, filing.plan_year)] = year
        if previous is not None and (previous.employer_uscc, previous.plan_year) != (
                filing.employer_uscc, filing.plan_year):
            key = (previous.employer_uscc, previous.plan_year)
            self.year_totals[key] = self.year_totals.get(key, Totals()).minus(previous.totals)
        self.current[filing.declaration_id] = CurrentFiling(
            filing.revision, filing.employer_uscc, filing.plan_year, Totals.of(filing))
        self.rejected_ids.discard(filing.declaration_id)
        self.registered.append(filing)
        data = registered_data(filing, previous.revision if previous else None, year)
        self.emits.append(Emit(ENTERPRISE_ANNUITY_REGISTERED, filing.employer_uscc, data, cause))

    def _reject(self, check: EnterpriseAnnuityCheck, reasons: list[Reason], key: str,
                cause: int) -> None:
        data = {"declaration_id": check.declaration_id, "revision": check.revision,
                "reasons": cap_reasons(reasons, check.reasons_more)}
        self.emits.append(Emit(ENTERPRISE_ANNUITY_REJECTED, key, data, cause))


def _percent(basis_points: int) -> str:
    whole, hundredths = divmod(basis_points, 100)
    return f"{whole}%" if hundredths == 0 else f"{whole}.{hundredths:02d}%"


def registered_data(filing: EnterpriseAnnuityFiling, replaces_revision: int | None,
                    year: Totals) -> dict[str, Any]:
    """`collection.enterprise_annuity.registered.v1`."""
    return {
        "declaration_id": filing.declaration_id,
        "revision": filing.revision,
        "replaces_revision": replaces_revision,
        "employer_uscc": filing.employer_uscc,
        "region_code": filing.region_code,
        "fiscal_entity_code": filing.fiscal_entity_code,
        "fee_period": filing.fee_period,
        "plan_year": filing.plan_year,
        "declared_on": filing.declared_on.isoformat(),
        "backfill": filing.backfill,
        "line_count": len(filing.lines),
        "payroll_total": format_yuan(filing.payroll_total_fen),
        "employer_total": format_yuan(filing.employer_total_fen),
        "employee_total": format_yuan(filing.employee_total_fen),
        "plan_year_payroll_total": format_yuan(year.payroll_fen),
        "plan_year_employer_total": format_yuan(year.employer_fen),
        "plan_year_employee_total": format_yuan(year.employee_fen),
        "rule_version": filing.rule_version,
        "lines": [
            {"line_no": line.line_no, "person_id": line.person_id,
             "employer_amount": format_yuan(line.employer_amount_fen),
             "employee_amount": format_yuan(line.employee_amount_fen)}
            for line in filing.lines
        ],
    }
