"""The report's sections on what the policy asks operators to watch in a period: budgets against
appropriations, the assessment (考核) of the leagues and cities, occupational annuity bases
against the basic pension, and enterprise annuity filings (pure: no I/O).

Folded from `transfer.obligations` and `collection.declarations` (and `annuity.ledger` for the
annuity part of the assessment). Budget gaps and assessments are reported per date: a section
shows the latest date only, so a month appropriated in full after an earlier check drops out of
the budgets section at the next check that still finds another gap of the period. Rejected
enterprise annuity filings name neither entity nor period, so the builder places them by the
filing, as it places rejected declarations.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from shared.cli.common import yuan
from shared.cli.entities import LEAGUES_AND_CITIES
from shared.cli.report_section import Column, Kind, Section, empty_rows, fen_of
from shared.contracts.assessment import (
    ANNUITY_ASSESSED,
    COLLECTION_ASSESSED,
    TRANSFER_ASSESSED,
    share_bp,
)
from shared.contracts.collection import (
    ANNUITY_BASE_FINDING,
    ANNUITY_BASE_RESOLVED,
    ENTERPRISE_ANNUITY_REGISTERED,
    ENTERPRISE_ANNUITY_REJECTED,
)
from shared.contracts.transfer import (
    APPROPRIATION_BELOW_BUDGET,
    APPROPRIATION_MISSING,
    BUDGET_RECORDED,
)

ASSESSED_TYPES: Final = (COLLECTION_ASSESSED, TRANSFER_ASSESSED, ANNUITY_ASSESSED)
TYPES: Final = frozenset({BUDGET_RECORDED, APPROPRIATION_MISSING, APPROPRIATION_BELOW_BUDGET,
                          ANNUITY_BASE_FINDING, ANNUITY_BASE_RESOLVED,
                          ENTERPRISE_ANNUITY_REGISTERED, ENTERPRISE_ANNUITY_REJECTED,
                          *ASSESSED_TYPES})

Place = Callable[[str, dict[str, Any]], tuple[Any, Any]]
"""(fiscal entity, fee period) of a rejected filing, from its declared event; (None, None)."""


def _section(key: str, title: str, columns: tuple[Column, ...]) -> Section:
    return Section(key, title, columns, empty_rows(columns), {c.name: 0 for c in columns})


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    return value if type(value) is int and value >= 0 else 0


def _revision(data: dict[str, Any]) -> int:
    revision = data.get("revision")
    return revision if type(revision) is int else -1


_Field = tuple[str, str, Kind]
# (section key, event type, title, [(column, field, kind)]): what each assessment answer shows.
_ASSESSMENT_PARTS: Final[tuple[tuple[str, str, str, tuple[_Field, ...]], ...]] = (
    ("assessment_collection", COLLECTION_ASSESSED, "contributions (collection.declarations)",
     (("registered", "declarations_registered", "count"),
      ("paid_on_time", "declarations_paid_on_time", "count"),
      ("amount_due", "amount_due", "money"), ("amount_paid", "amount_paid", "money"),
      ("outstanding", "amount_outstanding", "money"), ("late_fees", "late_fees", "money"),
      ("findings_open", "annuity_base_findings_open", "count"),
      ("institution_members", "institution_members", "count"),
      ("without_annuity", "institution_members_without_annuity", "count"))),
    ("assessment_transfer", TRANSFER_ASSESSED, "subsidies (transfer.obligations)",
     (("obligations", "obligations", "count"), ("in_full", "forwarded_in_full", "count"),
      ("on_time", "forwarded_on_time", "count"), ("due", "amount_due", "money"),
      ("settled", "amount_settled", "money"), ("short", "amount_short", "money"),
      ("days_open", "shortfall_days_open", "count"),
      ("missing", "appropriations_missing", "count"),
      ("below_budget", "appropriations_below_budget", "count"))),
    ("assessment_annuity", ANNUITY_ASSESSED, "occupational annuity (annuity.ledger)",
     (("remittances", "remittances_requested", "count"),
      ("on_time", "remittances_on_time", "count"), ("overdue", "remittances_overdue", "count"),
      ("remitted", "amount_remitted", "money"), ("topups", "topups_assessed", "count"),
      ("topups_funded", "topups_funded", "count"))),
)


@dataclass(slots=True)
class Oversight:
    """The events these sections read; `add` takes each once (the builder drops repeats)."""

    period: str
    budgets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    gaps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    assessed: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    findings: dict[str, tuple[int, str, dict[str, Any]]] = field(default_factory=dict)
    filings: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, event_type: str, offset: int, data: dict[str, Any]) -> None:
        if event_type == BUDGET_RECORDED:
            self._budget(data)
        elif event_type in (APPROPRIATION_MISSING, APPROPRIATION_BELOW_BUDGET):
            if data.get("period") == self.period:
                self.gaps.append((event_type, data))
        elif event_type in ASSESSED_TYPES:
            if data.get("period") == self.period:
                self.assessed[event_type].append(data)
        elif event_type in (ANNUITY_BASE_FINDING, ANNUITY_BASE_RESOLVED):
            self._finding(event_type, offset, data)
        elif event_type == ENTERPRISE_ANNUITY_REGISTERED:
            current = self.filings.get(str(data.get("declaration_id")))
            if current is None or _revision(data) >= _revision(current):
                self.filings[str(data.get("declaration_id"))] = data
        else:
            self.refused.setdefault(str(data.get("declaration_id")), data)

    def _budget(self, data: dict[str, Any]) -> None:
        if str(data.get("year")) != self.period[:4]:
            return
        key = (str(data.get("fiscal_entity_code")), str(data.get("fund")))
        if key not in self.budgets or _revision(data) > _revision(self.budgets[key]):
            self.budgets[key] = data

    def _finding(self, event_type: str, offset: int, data: dict[str, Any]) -> None:
        if data.get("fee_period") != self.period:
            return
        # One finding's events share a partition (keyed by employer), so a higher offset is later.
        finding_id = str(data.get("finding_id"))
        if finding_id not in self.findings or offset > self.findings[finding_id][0]:
            self.findings[finding_id] = (offset, event_type, data)

    def unplaced(self) -> set[str]:
        """Rejected filings never registered: only their declared event says where they belong."""
        return set(self.refused) - set(self.filings)

    # ---- sections ------------------------------------------------------------------------------

    def sections(self, place: Place) -> tuple[Section, ...]:
        budgets = self._budgets()
        assessment = self._assessment()
        self._check_gaps_against_assessment(budgets, assessment[1])
        return budgets, *assessment, self._annuity_bases(), self._enterprise_annuity(place)

    def _budgets(self) -> Section:
        columns = (Column("budgeted", "money"), Column("months_missing", "count"),
                   Column("months_below", "count"), Column("appropriated", "money"),
                   Column("short", "money"))
        as_of = max((str(d.get("as_of")) for _, d in self.gaps), default=None)
        section = _section("budgets", f"Budgets of period {self.period} against appropriations, "
                           f"at the deadline check of {as_of or '(none with a gap yet)'} "
                           "(transfer.obligations)", columns)
        section.checks.append("each gap is short of its budget by budgeted - appropriated; a "
                              "missing month appropriated nothing, a month below its budget "
                              "something; each gap names a recorded budget")
        for (entity, _fund), data in sorted(self.budgets.items()):
            section.add(entity, {"budgeted": fen_of(data, "amount_per_month")},
                        f"budget {data.get('budget_id')}")
        recorded = {str(d.get("budget_id")) for d in self.budgets.values()}
        for event_type, data in self.gaps:
            if str(data.get("as_of")) == as_of:
                self._gap(section, event_type, data, recorded)
        section.notes.append("budgeted: the monthly budgets in force for the period's year, "
                             "both funds; the other columns: the months (per fund) the check "
                             "found past due and not appropriated in full")
        return section

    @staticmethod
    def _gap(section: Section, event_type: str, data: dict[str, Any], recorded: set[str]) -> None:
        missing = event_type == APPROPRIATION_MISSING
        budgeted = fen_of(data, "amount_budgeted")
        appropriated, short = fen_of(data, "amount_appropriated"), fen_of(data, "amount_short")
        what = f"gap {data.get('fiscal_entity_code')}/{data.get('fund')}/{data.get('period')}"
        if short != budgeted - appropriated:
            section.problems.append(f"{what}: short {yuan(short)} but budgeted "
                                    f"{yuan(budgeted)} - appropriated {yuan(appropriated)}")
        if missing != (appropriated == 0):
            section.problems.append(f"{what}: reported {'missing' if missing else 'below budget'}"
                                    f" with {yuan(appropriated)} appropriated")
        if str(data.get("budget_id")) not in recorded:
            section.problems.append(f"{what}: budget {data.get('budget_id')} is not a recorded "
                                    "budget of the year")
        section.add(str(data.get("fiscal_entity_code")),
                    {"months_missing": int(missing), "months_below": int(not missing),
                     "appropriated": appropriated, "short": short}, what)

    # ---- assessment ----------------------------------------------------------------------------

    def _latest_command(self) -> tuple[str, str] | None:
        """(as_of, command_id) of the latest assessment of the period: the latest date; of two
        commands for one date, the greater id (any reader picks the same one)."""
        answers = [d for events in self.assessed.values() for d in events]
        return max(((str(d.get("as_of")), str(d.get("command_id"))) for d in answers),
                   default=None)

    def _assessment(self) -> tuple[Section, ...]:
        latest = self._latest_command()
        sections: list[Section] = []
        for key, event_type, what, fields in _ASSESSMENT_PARTS:
            columns = tuple(Column(name, kind) for name, _, kind in fields)
            shown = (f"command {latest[1]}, as of {latest[0]}" if latest
                     else "no assessment of the period yet")
            section = _section(key, f"Assessment (考核) of period {self.period}, {what}: "
                               f"{shown}", columns)
            answers = self._answers(event_type)
            for data in answers:
                section.add(str(data.get("fiscal_entity_code")),
                            {name: (fen_of(data, source) if kind == "money"
                                    else _count(data, source)) for name, source, kind in fields},
                            f"assessment {data.get('assessment_id')}")
            versions = sorted({str(d.get("rule_version")) for d in answers})
            if versions:
                section.notes.append("rule_version: " + ", ".join(versions))
            sections.append(section)
        collection, transfer, annuity = sections
        self._check_collection(collection)
        self._check_transfer(transfer, bool(latest))
        self._check_annuity(annuity)
        return tuple(sections)

    def _check_collection(self, section: Section) -> None:
        section.checks.append("per entity: paid on time <= registered, with the share it states;"
                              " outstanding <= due")
        for entity, row in section.rows.items():
            if row["paid_on_time"] > row["registered"] or row["outstanding"] > row["amount_due"]:
                section.problems.append(f"entity {entity}: paid on time {row['paid_on_time']} of "
                                        f"{row['registered']}, outstanding "
                                        f"{yuan(row['outstanding'])} of {yuan(row['amount_due'])}")
        self._check_shares(section, COLLECTION_ASSESSED, "share_paid_on_time_bp",
                           "declarations_paid_on_time", "declarations_registered")

    def _check_transfer(self, section: Section, assessed: bool) -> None:
        section.checks.append("one answer for each of the 14 leagues/cities; on time <= in full "
                              "<= obligations, with the share it states")
        answered = Counter(str(d.get("fiscal_entity_code"))
                           for d in self._answers(TRANSFER_ASSESSED))
        for entity in LEAGUES_AND_CITIES if assessed else ():
            if answered[entity] != 1:
                section.problems.append(f"entity {entity}: {answered[entity]} transfer answers")
        for entity, row in section.rows.items():
            if not row["on_time"] <= row["in_full"] <= row["obligations"]:
                section.problems.append(f"entity {entity}: {row['on_time']} on time, "
                                        f"{row['in_full']} in full of {row['obligations']}")
        self._check_shares(section, TRANSFER_ASSESSED, "share_forwarded_on_time_bp",
                           "forwarded_on_time", "obligations")

    @staticmethod
    def _check_annuity(section: Section) -> None:
        section.checks.append("per entity: on time + overdue <= remittances; top-ups funded <= "
                              "assessed")
        for entity, row in section.rows.items():
            if (row["on_time"] + row["overdue"] > row["remittances"]
                    or row["topups_funded"] > row["topups"]):
                section.problems.append(f"entity {entity}: remittances {row['on_time']} on time "
                                        f"+ {row['overdue']} overdue of {row['remittances']}, "
                                        f"top-ups {row['topups_funded']} of {row['topups']}")

    def _answers(self, event_type: str) -> list[dict[str, Any]]:
        latest = self._latest_command()
        return [d for d in self.assessed.get(event_type, [])
                if (str(d.get("as_of")), str(d.get("command_id"))) == latest]

    def _check_shares(self, section: Section, event_type: str, share: str, part: str,
                      whole: str) -> None:
        for data in self._answers(event_type):
            parts, wholes = _count(data, part), _count(data, whole)
            if parts <= wholes and _count(data, share) != share_bp(parts, wholes):
                section.problems.append(f"assessment {data.get('assessment_id')}: {share} "
                                        f"{data.get(share)} is not {parts} of {wholes}")

    def _check_gaps_against_assessment(self, budgets: Section, transfer: Section) -> None:
        """Both come from fund_transfer's budgets: on the same date they must agree."""
        latest = self._latest_command()
        gaps_as_of = max((str(d.get("as_of")) for _, d in self.gaps), default=None)
        if latest is None or latest[0] != gaps_as_of:
            return
        transfer.checks.append(f"missing and below-budget months equal the budgets section's "
                               f"(both as of {gaps_as_of})")
        for entity, row in transfer.rows.items():
            gap_row = budgets.rows[entity]
            if (row["missing"], row["below_budget"]) != (gap_row["months_missing"],
                                                         gap_row["months_below"]):
                transfer.problems.append(
                    f"entity {entity}: assessed {row['missing']} missing, {row['below_budget']} "
                    f"below budget; the deadline check found {gap_row['months_missing']} and "
                    f"{gap_row['months_below']}")

    # ---- annuity bases and enterprise annuity ---------------------------------------------------

    def _annuity_bases(self) -> Section:
        columns = (Column("findings", "count"), Column("unresolved", "count"),
                   Column("base_mismatch", "count"), Column("basic_missing", "count"),
                   Column("resolved", "count"))
        section = _section("annuity_bases", f"Occupational annuity bases against the basic "
                           f"pension, fee period {self.period} (collection.declarations)",
                           columns)
        section.checks.append("findings = unresolved + resolved; a mismatch names two different "
                              "bases, a missing basic pension none")
        for finding_id, (_, event_type, data) in sorted(self.findings.items()):
            values = {"findings": 1}
            if event_type == ANNUITY_BASE_RESOLVED:
                values["resolved"] = 1
            else:
                kind = data.get("kind")
                values.update({"unresolved": 1, "base_mismatch": int(kind == "BASE_MISMATCH"),
                               "basic_missing": int(kind == "BASIC_PENSION_MISSING")})
                self._check_finding(section, finding_id, data)
            section.add(str(data.get("fiscal_entity_code")), values, f"finding {finding_id}")
        for entity, row in section.rows.items():
            if row["unresolved"] != row["base_mismatch"] + row["basic_missing"]:
                section.problems.append(f"entity {entity}: an unresolved finding of unknown kind")
        return section

    @staticmethod
    def _check_finding(section: Section, finding_id: str, data: dict[str, Any]) -> None:
        basic = data.get("basic_base")
        if data.get("kind") == "BASE_MISMATCH" and (
                basic is None or fen_of(data, "basic_base") == fen_of(data, "annuity_base")):
            section.problems.append(f"finding {finding_id}: a base mismatch of equal bases")
        if data.get("kind") == "BASIC_PENSION_MISSING" and basic is not None:
            section.problems.append(f"finding {finding_id}: basic pension missing but its base "
                                    "is given")

    def _enterprise_annuity(self, place: Place) -> Section:
        columns = (Column("registered", "count"), Column("rejected", "count"),
                   Column("payroll", "money"), Column("employer", "money"),
                   Column("employee", "money"))
        section = _section("enterprise_annuity", f"Enterprise annuity (企业年金) filings of fee "
                           f"period {self.period} (collection.declarations)", columns)
        section.checks.append("each filing's plan-year totals include its own amounts")
        for declaration_id, data in sorted(self.filings.items()):
            if data.get("fee_period") != self.period:
                continue
            amounts = {name: fen_of(data, f"{name}_total")
                       for name in ("payroll", "employer", "employee")}
            if any(fen_of(data, f"plan_year_{name}_total") < fen for name, fen in amounts.items()):
                section.problems.append(f"filing {declaration_id}: a plan-year total below the "
                                        "filing's own")
            section.add(str(data.get("fiscal_entity_code")), {"registered": 1, **amounts},
                        f"filing {declaration_id}")
        self._count_refused(section, place)
        return section

    def _count_refused(self, section: Section, place: Place) -> None:
        codes: Counter[str] = Counter()
        unplaced = 0
        for declaration_id in sorted(self.unplaced()):
            data = self.refused[declaration_id]
            entity, period = place(declaration_id, data)
            if entity is None or period is None:
                unplaced += 1
                continue
            if period != self.period:
                continue
            section.add(str(entity), {"rejected": 1}, f"rejected filing {declaration_id}")
            reasons = data.get("reasons")
            codes.update({str(r.get("code")) for r in reasons if isinstance(r, dict)}
                         if isinstance(reasons, list) else ())
        if codes:
            section.notes.append("rejection codes (filings): " + ", ".join(
                f"{code} {n}" for code, n in sorted(codes.items())))
        if unplaced:
            section.notes.append(f"{unplaced} rejected filing(s) of unknown fee period or region "
                                 "(all periods) are not in the rows")
