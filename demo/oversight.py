"""What the demo adds for the policy's oversight (pure and seeded): regional finance's budgets of
the 14 leagues/cities, one city that appropriates nothing and one below its budget, enterprise
annuity (企业年金) filings of a few enterprises with one over its cap, one occupational annuity
line whose base differs from the basic pension's, and the assessment (考核) command.

Its choices use a random generator of their own, so the rest of the month (declarations,
payments, subsidies) stays exactly what the same seed gave before these cases existed.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from demo.events import BUDGETS, COMMANDS, DECLARATIONS, OPS_SOURCE, TAX_SOURCE, Message, message
from shared.cli.common import yuan
from shared.cli.entities import LEAGUES_AND_CITIES
from shared.money import amount_for_rate, format_yuan

if TYPE_CHECKING:
    from demo.finance import SubsidyCase
    from demo.generate import Employer
    from shared.cli.report_model import Report
    from shared.cli.report_section import Column

REGIONAL_FINANCE: Final = "/finance/150000"
BELOW_BUDGET_FUND: Final = "enterprise_basic_pension"
BELOW_BUDGET_BPS: Final = 12_000  # the budget is 120 % of what the city appropriates
MISSING_BUDGET_FEN: Final = 2_000_000_000  # 20,000,000.00 a month, never appropriated
FILINGS: Final = 6
# Enterprise annuity amounts as shares of each member's base: inside the caps of 8 % (employer)
# and 12 % (both) of the payroll; the last filing's employer share breaks the 8 %.
EMPLOYER_BPS: Final = 400
EMPLOYEE_BPS: Final = 200
OVER_CAP_EMPLOYER_BPS: Final = 1_000
BASE_SHIFT_FEN: Final = 10_000  # the annuity base differs from the basic pension's by 100.00


@dataclass(frozen=True, slots=True)
class Oversight:
    """The cases the demo predicts and the feeder checks in the report."""

    missing_entity: str
    below_entity: str
    rejected_filing: str
    filings: int
    mismatch_declaration: str


def side_rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"oversight-{purpose}-{seed}")  # noqa: S311  # made-up demo data


def gap_entities(rng: random.Random, cases: Sequence[SubsidyCase]) -> tuple[str, str]:
    """(no appropriation, below budget): two cities whose subsidies are all settled in full."""
    plain = sorted(e for e in LEAGUES_AND_CITIES
                   if all(c.outcome == "full" for c in cases if c.fiscal_entity_code == e))
    missing, below = rng.sample(plain, 2)
    return missing, below


def budget_messages(cases: Sequence[SubsidyCase], missing_entity: str, below_entity: str,
                    period: str, seed: int) -> list[Message]:
    """A budget for every league/city and fund: what it appropriates, except the two cases."""
    year = period[:4]
    appropriated = {(c.fiscal_entity_code, c.fund): c.amount_fen for c in cases}
    messages = []
    for entity in LEAGUES_AND_CITIES:
        for fund in ("institution_basic_pension", "enterprise_basic_pension"):
            amount_fen = appropriated.get((entity, fund), MISSING_BUDGET_FEN)
            if (entity, fund) == (below_entity, BELOW_BUDGET_FUND):
                amount_fen = amount_fen * BELOW_BUDGET_BPS // 10_000
            budget_id = f"B-{entity}-{year}-{fund.split('_')[0][:3].upper()}-{seed}-r0"
            data = {"budget_id": budget_id, "revision": 0, "fiscal_entity_code": entity,
                    "fund": fund, "year": int(year), "amount_per_month": format_yuan(amount_fen),
                    "document_no": f"内财社〔{year}〕3号"}
            messages.append(message(BUDGETS, entity, "finance.subsidy.budgeted.v1",
                                    REGIONAL_FINANCE, data, "budgeted", seed, budget_id))
    return messages


def filing_messages(employers: Sequence[Employer], period: str,
                    seed: int) -> tuple[list[Message], str]:
    """One enterprise of each of the first leagues/cities files its enterprise annuity; the last
    filing's employer amounts are over the cap. Returns the messages and that filing's id."""
    chosen: dict[str, Employer] = {}
    for employer in employers:
        if not employer.institution and employer.fiscal_entity_code in LEAGUES_AND_CITIES:
            chosen.setdefault(employer.fiscal_entity_code, employer)
    picked = list(chosen.values())[:FILINGS]
    messages = []
    for number, employer in enumerate(picked, start=1):
        employer_bps = OVER_CAP_EMPLOYER_BPS if number == len(picked) else EMPLOYER_BPS
        declaration_id = f"EA-{employer.fiscal_entity_code}-{period}-{seed}-{number:04d}"
        data = {"declaration_id": declaration_id, "revision": 0,
                "employer_uscc": employer.uscc, "employer_name": employer.name,
                "region_code": employer.region_code, "fee_period": period,
                "declared_on": f"{period}-12",
                "payroll_total": format_yuan(sum(p.base_fen for p in employer.persons)),
                "backfill": False,
                "lines": [{"line_no": n, "person_id": p.person_id, "person_name": p.name,
                           "employer_amount": format_yuan(amount_for_rate(p.base_fen,
                                                                          employer_bps)),
                           "employee_amount": format_yuan(amount_for_rate(p.base_fen,
                                                                          EMPLOYEE_BPS))}
                          for n, p in enumerate(employer.persons, start=1)]}
        messages.append(message(DECLARATIONS, employer.uscc,
                                "tax.enterprise_annuity.declared.v1", TAX_SOURCE, data,
                                "enterprise-annuity", seed, declaration_id))
    return messages, messages[-1].data["declaration_id"]


def assessment_command(period: str, as_of: dt.date, seed: int) -> Message:
    command_id = f"demo-{seed}-assessment-{period}"
    return message(COMMANDS, "all", "ops.assessment.requested.v1", OPS_SOURCE,
                   {"command_id": command_id, "period": period, "as_of": as_of.isoformat()},
                   "assessment", seed, command_id)


def outcome_lines(report: Report, expected: Oversight) -> tuple[list[str], list[str]]:
    """What the report shows of the four cases and the assessment, and what it misses of them."""
    sections = {s.key: s for s in report.sections}
    budgets, bases = sections["budgets"], sections["annuity_bases"]
    filings, transfer = sections["enterprise_annuity"], sections["assessment_transfer"]
    missing = sorted(e for e, row in budgets.rows.items() if row["months_missing"])
    below = sorted(e for e, row in budgets.rows.items() if row["months_below"])
    lines = [f"budgets: no appropriation from {', '.join(missing) or 'none'}, below budget "
             f"{', '.join(below) or 'none'}, short {yuan(budgets.totals['short'])}",
             f"annuity bases: {bases.totals['base_mismatch']} base mismatch(es) open, "
             f"{bases.totals['basic_missing']} with no basic pension line (its declaration "
             f"rejected or not yet in), {bases.totals['resolved']} resolved",
             f"enterprise annuity: {filings.totals['registered']} filings registered, "
             f"{filings.totals['rejected']} rejected ({'; '.join(filings.notes) or 'no codes'})"]
    for key in ("assessment_collection", "assessment_transfer", "assessment_annuity"):
        section = sections[key]
        figures = ", ".join(f"{c.name} {_shown(c, section.totals[c.name])}"
                            for c in section.columns)
        lines.append(f"{section.title}: totals {figures} ({'; '.join(section.notes)})")
    problems = []
    if missing != [expected.missing_entity]:
        problems.append(f"appropriation missing of {expected.missing_entity} (report: {missing})")
    if below != [expected.below_entity]:
        problems.append(f"appropriation below budget of {expected.below_entity} (report: {below})")
    if bases.totals["base_mismatch"] != 1:
        problems.append(f"annuity base finding of {expected.mismatch_declaration}")
    if (filings.totals["registered"], filings.totals["rejected"]) != (expected.filings - 1, 1):
        problems.append(f"enterprise annuity rejection of {expected.rejected_filing}")
    if transfer.totals["missing"] != budgets.totals["months_missing"]:
        problems.append("the assessment of the budget gaps")
    return lines, problems


def _shown(column: Column, value: int) -> str:
    return yuan(value) if column.kind == "money" else str(value)
