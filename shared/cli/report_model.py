"""The figures of `report PERIOD`, folded from outbound events (pure: no I/O, no clock).

Feed every event with `ReportBuilder.add` in the order read; `build()` returns sections of
per-entity rows, totals computed separately from the rows, and the reconciliation checks. Money is
integer fen throughout; yuan strings are parsed once, here, at the edge. The sections on notional
money, fundings and back-credits are report_annuity.py's; those on budgets, the assessment,
annuity bases and enterprise annuity filings are report_oversight.py's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

from shared.cli import report_annuity, report_oversight
from shared.cli.common import yuan
from shared.cli.entities import REGION, fiscal_entity_for_region
from shared.cli.report_section import Column, Section, dicts_of, empty_rows, fen_of

PURPOSE_SUBSIDY: Final = "subsidy_forwarding"
OBLIGATION_TYPES: Final = {
    "transfer.obligation.fulfilled.v1": "fulfilled",
    "transfer.obligation.shortfall.v1": "shortfall",
    "transfer.obligation.overpaid.v1": "overpaid",
}


@dataclass(frozen=True, slots=True)
class Report:
    period: str
    sections: tuple[Section, ...]
    events_read: dict[str, int]
    unreadable: int


def _check_rows_equal_totals(section: Section) -> None:
    """Totals come from the events directly, so a row lost to an unknown entity shows here."""
    section.checks.append("the entity rows add up to the totals")
    for column in section.columns:
        row_sum = sum(row[column.name] for row in section.rows.values())
        total = section.totals[column.name]
        if row_sum != total:
            shown = yuan if column.kind == "money" else str
            section.problems.append(f"{column.name}: the entity rows add up to {shown(row_sum)} "
                                    f"but the total is {shown(total)}")


def _dict(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


class ReportBuilder:
    """Collects the events of the four outbound topics; see the module docstring."""

    def __init__(self, period: str) -> None:
        self.period = period
        self._seen: set[tuple[str, str]] = set()
        self.events_read: dict[str, int] = defaultdict(int)
        self.unreadable = 0
        self.registered: dict[str, dict[str, Any]] = {}
        self.rejected: dict[str, dict[str, Any]] = {}
        self.settled: dict[str, dict[str, Any]] = {}
        self.declared: dict[tuple[str, int], dict[str, Any]] = {}
        self.notices: dict[str, dict[str, Any]] = {}
        self.notices_settled: dict[str, dict[str, Any]] = {}
        self.obligations: dict[tuple[str, str, str], tuple[int, str, dict[str, Any]]] = {}
        self.credited: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.remittances: dict[str, dict[str, Any]] = {}
        self.completed: dict[str, dict[str, Any]] = {}
        self.overdue: dict[str, dict[str, Any]] = {}
        self.assessed: dict[str, dict[str, Any]] = {}
        self.allocated: dict[str, dict[str, Any]] = {}
        self.money = report_annuity.AnnuityMoney()
        self.oversight = report_oversight.Oversight(period)

    # ---- intake -------------------------------------------------------------------------------

    def add(self, topic: str, offset: int, event: Any) -> None:
        """One event read from `topic` (base name); duplicates (same source and id) count once."""
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            self.unreadable += 1
            return
        identity = (str(event.get("source")), str(event.get("id")))
        if identity in self._seen:
            return
        self._seen.add(identity)
        self.events_read[topic] += 1
        self._route(str(event.get("type")), offset, event["data"])

    def _route(self, event_type: str, offset: int, data: dict[str, Any]) -> None:
        if event_type in report_oversight.TYPES:
            self.oversight.add(event_type, offset, data)
            return
        if event_type in report_annuity.TYPES:
            self.money.add(event_type, data)  # notices also go on to the subsidy figures
        if event_type in OBLIGATION_TYPES:
            self._obligation(OBLIGATION_TYPES[event_type], offset, data)
            return
        handler = {
            "collection.declaration.registered.v1": self._registered,
            "collection.declaration.rejected.v1": self._rejected,
            "collection.contribution.settled.v1": self._settled,
            "transfer.notice.issued.v1": self._notice,
            "transfer.notice.settled.v1": self._notice_settled,
            "annuity.contribution.credited.v1": self._credited,
            "annuity.remittance.requested.v1": self._remittance,
            "annuity.remittance.completed.v1": self._completed,
            "annuity.remittance.overdue.v1": self._overdue,
            "annuity.interest_topup.assessed.v1": self._assessed,
            "annuity.interest_topup.allocated.v1": self._allocated,
        }.get(event_type)
        if handler is not None:
            handler(data)

    def _registered(self, data: dict[str, Any]) -> None:
        current = self.registered.get(str(data.get("declaration_id")))
        if current is None or _revision(data) >= _revision(current):
            self.registered[str(data.get("declaration_id"))] = data

    def _rejected(self, data: dict[str, Any]) -> None:
        self.rejected.setdefault(str(data.get("declaration_id")), data)

    def _settled(self, data: dict[str, Any]) -> None:
        self.settled.setdefault(str(data.get("payment_id")), data)

    def _notice(self, data: dict[str, Any]) -> None:
        self.notices.setdefault(str(data.get("notice_id")), data)

    def _notice_settled(self, data: dict[str, Any]) -> None:
        self.notices_settled.setdefault(str(data.get("notice_id")), data)

    def _obligation(self, status: str, offset: int, data: dict[str, Any]) -> None:
        if data.get("period") != self.period:
            return
        key = (str(data.get("fiscal_entity_code")), str(data.get("fund")), self.period)
        # One entity's events share a partition (keyed by entity), so a higher offset is later.
        if key not in self.obligations or offset > self.obligations[key][0]:
            self.obligations[key] = (offset, status, data)

    def _credited(self, data: dict[str, Any]) -> None:
        self.credited[str(data.get("declaration_id"))].append(data)

    def _remittance(self, data: dict[str, Any]) -> None:
        self.remittances.setdefault(str(data.get("remittance_id")), data)

    def _completed(self, data: dict[str, Any]) -> None:
        self.completed.setdefault(str(data.get("remittance_id")), data)

    def _overdue(self, data: dict[str, Any]) -> None:
        self.overdue.setdefault(str(data.get("remittance_id")), data)

    def _assessed(self, data: dict[str, Any]) -> None:
        self.assessed.setdefault(str(data.get("assessment_id")), data)

    def _allocated(self, data: dict[str, Any]) -> None:
        self.allocated.setdefault(str(data.get("assessment_id")), data)

    # ---- rejected declarations: where they belong ---------------------------------------------

    def unattributed_rejections(self) -> set[str]:
        """Rejected, never registered, and the rejection does not say its entity and period
        (no rejected enterprise annuity filing does)."""
        return {
            declaration_id for declaration_id, data in self.rejected.items()
            if declaration_id not in self.registered
            and not (data.get("fiscal_entity_code") and data.get("fee_period"))
        } | self.oversight.unplaced()

    def add_declared(self, data: dict[str, Any]) -> None:
        """An inbound declaration, read only to place rejections that do not name their period."""
        self.declared[(str(data.get("declaration_id")), _revision(data))] = data

    def _rejection_place(self, declaration_id: str, data: dict[str, Any]) -> tuple[Any, Any]:
        if data.get("fiscal_entity_code") and data.get("fee_period"):
            return data["fiscal_entity_code"], data["fee_period"]
        declared = self.declared.get((declaration_id, _revision(data)))
        if declared is None:
            return None, None
        return fiscal_entity_for_region(declared.get("region_code")), declared.get("fee_period")

    # ---- output -------------------------------------------------------------------------------

    def build(self) -> Report:
        sections = (self._collection(), self._subsidies(), self._annuity(), self._topups(),
                    *self.money.sections(self.credited),
                    *self.oversight.sections(self._rejection_place))
        for section in sections:
            _check_rows_equal_totals(section)
        return Report(self.period, sections, dict(self.events_read), self.unreadable)

    def _collection(self) -> Section:
        columns = (Column("registered", "count"), Column("rejected", "count"),
                   Column("amount_due", "money"), Column("amount_paid", "money"),
                   Column("late_fees", "money"), Column("outstanding", "money"))
        section = Section("collection", f"Contributions of fee period {self.period} "
                          "(collection.declarations)", columns, empty_rows(columns),
                          {c.name: 0 for c in columns})
        in_period = {d_id: d for d_id, d in self.registered.items()
                     if d.get("fee_period") == self.period}
        paid = self._payments_by_declaration(in_period, section)
        for declaration_id, data in sorted(in_period.items()):
            due = fen_of(data, "amount_due")
            paid_fen, fee_fen = paid.get(declaration_id, (0, 0))
            section.add(str(data.get("fiscal_entity_code")),
                        {"registered": 1, "amount_due": due, "amount_paid": paid_fen,
                         "late_fees": fee_fen, "outstanding": max(due - paid_fen, 0)},
                        f"declaration {declaration_id}")
        self._count_rejections(section)
        return section

    def _payments_by_declaration(self, in_period: dict[str, dict[str, Any]],
                                 section: Section) -> dict[str, tuple[int, int]]:
        """(paid, late fees) per declaration, checking each payment against its declaration."""
        section.checks.append("each declaration's payments add up to its latest amount_paid_total"
                              " and carry its amount_due")
        by_declaration: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for data in self.settled.values():
            if str(data.get("declaration_id")) in in_period:
                by_declaration[str(data.get("declaration_id"))].append(data)
        result: dict[str, tuple[int, int]] = {}
        for declaration_id, payments in by_declaration.items():
            paid = sum(fen_of(p, "amount_paid") for p in payments)
            result[declaration_id] = (paid, sum(fen_of(p, "late_fee_due") for p in payments))
            reported = max(fen_of(p, "amount_paid_total") for p in payments)
            if reported != paid:
                section.problems.append(
                    f"declaration {declaration_id}: payments add up to {yuan(paid)} but "
                    f"amount_paid_total says {yuan(reported)} (a settled event missing or extra)")
            due = fen_of(in_period[declaration_id], "amount_due")
            if any(fen_of(p, "amount_due") != due for p in payments):
                section.problems.append(f"declaration {declaration_id}: a settled event's "
                                        f"amount_due differs from the registered {yuan(due)}")
        return result

    def _count_rejections(self, section: Section) -> None:
        unplaced = 0
        for declaration_id, data in sorted(self.rejected.items()):
            if declaration_id in self.registered:
                continue  # a later or earlier revision was registered: not a rejected declaration
            entity, period = self._rejection_place(declaration_id, data)
            if period is None or entity is None:
                unplaced += 1
            elif period == self.period:
                section.add(str(entity), {"rejected": 1}, f"rejected declaration {declaration_id}")
        if unplaced:
            section.notes.append(
                f"{unplaced} rejected declaration(s) of unknown fee period or region (all "
                "periods) are not in the rows: `pension-ops trace` shows each one")

    def _subsidies(self) -> Section:
        columns = (Column("obligations", "count"), Column("due", "money"),
                   Column("settled", "money"), Column("short", "money"),
                   Column("excess", "money"), Column("open", "money"))
        section = Section("subsidies", f"Subsidies forwarded for period {self.period} "
                          "(transfer.obligations, transfer.notices)", columns,
                          empty_rows(columns), {c.name: 0 for c in columns})
        section.checks.append("per obligation: due == settled + short + open - excess")
        section.checks.append("the first notices' amounts equal the obligation's amount_due")
        first_notice_due, settled_by_notice = self._subsidy_notices()
        for key in sorted(set(first_notice_due) | set(self.obligations)):
            values = self._obligation_values(key, first_notice_due, settled_by_notice, section)
            section.add(key[0], values, f"obligation {'/'.join(key)}")
        return section

    def _subsidy_notices(self) -> tuple[dict[tuple[str, str, str], int],
                                        dict[tuple[str, str, str], int]]:
        first_due: dict[tuple[str, str, str], int] = defaultdict(int)
        settled: dict[tuple[str, str, str], int] = defaultdict(int)
        for notice_id, data in self.notices.items():
            if data.get("purpose") != PURPOSE_SUBSIDY or data.get("period") != self.period:
                continue
            entity = str(_dict(data, "source_account").get("entity_code"))
            key = (entity, str(data.get("fund")), self.period)
            if data.get("attempt") == 0:  # a replacement repeats the obligation it replaces
                first_due[key] += fen_of(data, "amount")
            if notice_id in self.notices_settled:
                settled[key] += fen_of(self.notices_settled[notice_id], "amount_settled")
        return first_due, settled

    def _obligation_values(self, key: tuple[str, str, str], first_due: dict[Any, int],
                           settled_by_notice: dict[Any, int], section: Section) -> dict[str, int]:
        name = "/".join(key)
        if key not in self.obligations:  # not past due and not settled in full yet
            due, settled = first_due[key], settled_by_notice[key]
            if settled > due:
                section.problems.append(f"obligation {name}: notices settled {yuan(settled)}, more "
                                        f"than the {yuan(due)} due, and no overpaid event")
            return {"obligations": 1, "due": due, "settled": settled, "short": 0, "excess": 0,
                    "open": max(due - settled, 0)}
        _, status, data = self.obligations[key]
        values = {"obligations": 1, "due": fen_of(data, "amount_due"),
                  "settled": fen_of(data, "amount_settled"),
                  "short": fen_of(data, "amount_outstanding") if status == "shortfall" else 0,
                  "excess": fen_of(data, "amount_excess") if status == "overpaid" else 0,
                  "open": 0}
        if values["due"] != values["settled"] + values["short"] - values["excess"]:
            section.problems.append(
                f"obligation {name} ({status}): due {yuan(values['due'])} != settled "
                f"{yuan(values['settled'])} + short {yuan(values['short'])} - excess "
                f"{yuan(values['excess'])}")
        if key in first_due and first_due[key] != values["due"]:
            section.problems.append(f"obligation {name}: first notices ask {yuan(first_due[key])} "
                                    f"but the obligation is due {yuan(values['due'])}")
        return values

    def _annuity(self) -> Section:
        columns = (Column("collected", "money"), Column("notional", "money"),
                   Column("requested", "money"), Column("remitted", "money"),
                   Column("not_requested", "money"), Column("overdue", "money"))
        section = Section("annuity", f"Occupational annuity of fee period {self.period} "
                          "(annuity.ledger)", columns, empty_rows(columns),
                          {c.name: 0 for c in columns})
        section.checks.append("each completed remittance matches its request's amount; "
                              "the region (150000) remits nothing")
        collected = self._credits_in_period(section)
        requested = self._requests_in_period(section)
        remitted = self._completions_in_period(section)
        overdue = self._overdue_in_period()
        for entity in sorted(set(collected) | set(requested) | set(remitted)):
            funded, notional = collected.get(entity, (0, 0))
            asked = requested.get(entity, 0)
            unrequested = 0 if entity == REGION else max(funded - asked, 0)
            section.add(entity,
                        {"collected": funded, "notional": notional, "requested": asked,
                         "remitted": remitted.get(entity, 0), "not_requested": unrequested,
                         "overdue": overdue.get(entity, 0)},
                        f"annuity money of {entity}")
        if section.totals["not_requested"]:
            section.notes.append("not_requested: credited money no deadline check has asked to "
                                 "remit yet (requests start on the 5th of the next month)")
        return section

    def _credits_in_period(self, section: Section) -> dict[str, tuple[int, int]]:
        totals: dict[str, tuple[int, int]] = {}
        for declaration_id, credits in sorted(self.credited.items()):
            if len(credits) > 1:
                section.problems.append(f"declaration {declaration_id} was credited "
                                        f"{len(credits)} times")
            data = credits[0]
            if data.get("fee_period") != self.period:
                continue
            entity = str(data.get("fiscal_entity_code"))
            funded, notional = totals.get(entity, (0, 0))
            totals[entity] = (funded + fen_of(data, "individual_real_total")
                              + fen_of(data, "unit_real_total"),
                              notional + fen_of(data, "unit_notional_total"))
        return totals

    def _requests_in_period(self, section: Section) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for remittance_id, data in self.remittances.items():
            if data.get("fee_period") != self.period:
                continue
            entity = str(data.get("fiscal_entity_code"))
            if entity == REGION:
                section.problems.append(f"remittance {remittance_id} asks the region to remit")
            totals[entity] += fen_of(data, "amount")
        return totals

    def _overdue_in_period(self) -> dict[str, int]:
        """Requested remittances a deadline check reported overdue and still not completed."""
        totals: dict[str, int] = defaultdict(int)
        for remittance_id in set(self.overdue) - set(self.completed):
            request = self.remittances.get(remittance_id)
            if request is not None and request.get("fee_period") == self.period:
                totals[str(request.get("fiscal_entity_code"))] += fen_of(request, "amount")
        return totals

    def _completions_in_period(self, section: Section) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for remittance_id, data in self.completed.items():
            request = self.remittances.get(remittance_id)
            if request is None:
                section.problems.append(f"remittance {remittance_id} completed but never "
                                        "requested")
                request = data  # it may still carry its own entity and period
            if request.get("fee_period") != self.period:
                continue
            if fen_of(data, "amount") != fen_of(request, "amount"):
                section.problems.append(f"remittance {remittance_id}: completed "
                                        f"{yuan(fen_of(data, 'amount'))} of "
                                        f"{yuan(fen_of(request, 'amount'))} requested")
            totals[str(request.get("fiscal_entity_code"))] += fen_of(data, "amount")
        return totals

    def _topups(self) -> Section:
        columns = (Column("assessments", "count"), Column("assessed", "money"),
                   Column("allocated", "money"), Column("awaiting_funding", "money"))
        section = Section("topups", "Interest top-ups assessed to date, all fee periods before "
                          "the investment start (annuity.ledger)", columns,
                          empty_rows(columns), {c.name: 0 for c in columns})
        section.checks.append("members' interest adds up to each assessment; each allocation "
                              "funds its whole assessment and its members add up to it")
        for assessment_id, data in sorted(self.assessed.items()):
            total = fen_of(data, "total")
            if sum(fen_of(m, "interest") for m in dicts_of(data, "members")) != total:
                section.problems.append(f"assessment {assessment_id}: members' interest does "
                                        f"not add up to its total {yuan(total)}")
            funded = self._allocation_of(assessment_id, total, section)
            section.add(str(data.get("fiscal_entity_code")),
                        {"assessments": 1, "assessed": total, "allocated": funded,
                         "awaiting_funding": total - funded}, f"assessment {assessment_id}")
        for assessment_id in sorted(set(self.allocated) - set(self.assessed)):
            section.problems.append(f"allocation {assessment_id} has no assessment")
        return section

    def _allocation_of(self, assessment_id: str, total: int, section: Section) -> int:
        data = self.allocated.get(assessment_id)
        if data is None:
            return 0
        funded = fen_of(data, "amount_funded")
        if sum(fen_of(a, "amount") for a in dicts_of(data, "allocations")) != funded:
            section.problems.append(f"allocation {assessment_id}: members do not add up to "
                                    f"the {yuan(funded)} funded")
        if funded != total:
            section.problems.append(f"allocation {assessment_id}: funded {yuan(funded)} of the "
                                    f"{yuan(total)} assessed")
        return funded


def _revision(data: dict[str, Any]) -> int:
    revision = data.get("revision")
    return revision if type(revision) is int else -1
