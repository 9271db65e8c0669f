"""The report's sections on notional (记账) money, 做实 fundings and 补记 back-credits, to date.

Folded from `annuity.ledger` and `transfer.notices` (pure: no I/O). Balances are cumulative, so
these sections cover every fee period up to the end of the topics, like the top-ups section.
The checks: a notional balance is credited + interest posted + adjusted - funded and never
negative; members add up to their funding; a member is funded at most once per entity; a
completion funds its whole request; and the notices of each completed request settled at least
its amount, the money of a notice that failed after a partial settlement counting with its
replacement's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

from shared.cli.common import yuan
from shared.cli.report_section import Column, Section, dicts_of, empty_rows, fen_of

FUNDING_REQUESTED: Final = "annuity.notional_funding.requested.v1"
FUNDING_COMPLETED: Final = "annuity.notional_funding.completed.v1"
BACKCREDIT_REQUESTED: Final = "annuity.backcredit.requested.v1"
BACKCREDIT_COMPLETED: Final = "annuity.backcredit.completed.v1"
INTEREST_POSTED: Final = "annuity.notional_interest.posted.v1"
INTEREST_ADJUSTED: Final = "annuity.notional_interest.adjusted.v1"
HR_REJECTED: Final = "annuity.hr_event.rejected.v1"
NOTICE_SETTLED: Final = "transfer.notice.settled.v1"
NOTICE_FAILED: Final = "transfer.notice.failed.v1"
TYPES: Final = frozenset({FUNDING_REQUESTED, FUNDING_COMPLETED, BACKCREDIT_REQUESTED,
                          BACKCREDIT_COMPLETED, INTEREST_POSTED, INTEREST_ADJUSTED, HR_REJECTED,
                          NOTICE_SETTLED, NOTICE_FAILED})


def _section(key: str, title: str, columns: tuple[Column, ...]) -> Section:
    return Section(key, title, columns, empty_rows(columns), {c.name: 0 for c in columns})


@dataclass(slots=True)
class AnnuityMoney:
    """The events these sections read; `add` takes each once (the builder drops repeats)."""

    fundings: dict[str, dict[str, Any]] = field(default_factory=dict)
    funded: dict[str, dict[str, Any]] = field(default_factory=dict)
    backcredits: dict[str, dict[str, Any]] = field(default_factory=dict)
    credited_back: dict[str, dict[str, Any]] = field(default_factory=dict)
    posted: list[dict[str, Any]] = field(default_factory=list)
    adjusted: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    settled_by_request: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _notices: set[str] = field(default_factory=set)

    def add(self, event_type: str, data: dict[str, Any]) -> None:
        if event_type in (NOTICE_SETTLED, NOTICE_FAILED):
            self._notice(data)
        elif event_type == INTEREST_POSTED:
            self.posted.append(data)
        elif event_type == INTEREST_ADJUSTED:
            self.adjusted.append(data)
        elif event_type == HR_REJECTED:
            self.rejected += 1
        else:
            by_id = {FUNDING_REQUESTED: (self.fundings, "funding_id"),
                     FUNDING_COMPLETED: (self.funded, "funding_id"),
                     BACKCREDIT_REQUESTED: (self.backcredits, "backcredit_id"),
                     BACKCREDIT_COMPLETED: (self.credited_back, "backcredit_id")}
            table, id_field = by_id[event_type]
            table.setdefault(str(data.get(id_field)), data)

    def _notice(self, data: dict[str, Any]) -> None:
        """A notice ends settled or failed, once; what was settled on it counts for its request."""
        notice_id = str(data.get("notice_id"))
        if notice_id in self._notices:
            return
        self._notices.add(notice_id)
        covers = data.get("covers")
        for request_id in covers if isinstance(covers, list) else ():
            self.settled_by_request[str(request_id)] += fen_of(data, "amount_settled")

    # ---- sections ------------------------------------------------------------------------------

    def sections(self, credited: dict[str, list[dict[str, Any]]]) -> tuple[Section, ...]:
        return self._notional(credited), self._fundings(), self._backcredits()

    def _notional(self, credited: dict[str, list[dict[str, Any]]]) -> Section:
        columns = (Column("credited", "money"), Column("interest_posted", "money"),
                   Column("interest_adjusted", "money"), Column("funded", "money"),
                   Column("balance", "money"))
        section = _section("notional", "Notional (记账) unit money to date, all fee periods "
                           "(annuity.ledger)", columns)
        section.checks.append("balance = credited + interest posted + adjusted - funded, "
                              "never negative")
        figures: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(
            ("credited", "interest_posted", "interest_adjusted", "funded"), 0))
        for credits in credited.values():
            entity = str(credits[0].get("fiscal_entity_code"))
            figures[entity]["credited"] += fen_of(credits[0], "unit_notional_total")
        for name, events in (("interest_posted", self.posted),
                             ("interest_adjusted", self.adjusted)):
            for data in events:
                figures[str(data.get("fiscal_entity_code"))][name] += fen_of(data, "total")
        for done in self.funded.values():
            figures[str(done.get("fiscal_entity_code"))]["funded"] += fen_of(done, "amount")
        for entity, values in sorted(figures.items()):
            balance = (values["credited"] + values["interest_posted"]
                       + values["interest_adjusted"] - values["funded"])
            if balance < 0:
                section.problems.append(f"entity {entity}: more funded than notional money "
                                        f"({yuan(balance)})")
            section.add(entity, {**values, "balance": balance}, f"notional money of {entity}")
        return section

    def _fundings(self) -> Section:
        columns = (Column("fundings", "count"), Column("members", "count"),
                   Column("requested", "money"), Column("completed", "money"),
                   Column("outstanding", "money"))
        section = _section("fundings", "做实 fundings of notional balances to date "
                           "(annuity.ledger, transfer.notices)", columns)
        section.checks.append("members add up to each funding; no member funded twice at one "
                              "entity; each completion funds its whole request, settled over "
                              "its notices")
        seen: set[tuple[str, str]] = set()
        for funding_id, data in sorted(self.fundings.items()):
            total = fen_of(data, "total")
            members = dicts_of(data, "members")
            if sum(fen_of(m, "amount") for m in members) != total:
                section.problems.append(f"funding {funding_id}: members do not add up to "
                                        f"{yuan(total)}")
            entity = str(data.get("fiscal_entity_code"))
            for member in members:
                if (str(member.get("person_id")), entity) in seen:
                    section.problems.append(f"funding {funding_id}: a member funded twice")
                seen.add((str(member.get("person_id")), entity))
            done = self._completion(section, "funding", funding_id, amount=total,
                                    request_id=funding_id, completions=self.funded)
            section.add(entity, {"fundings": 1, "members": len(members), "requested": total,
                                 "completed": done, "outstanding": total - done},
                        f"funding {funding_id}")
        self._orphans(section, "funding", self.funded, self.fundings)
        return section

    def _backcredits(self) -> Section:
        columns = (Column("backcredits", "count"), Column("requested", "money"),
                   Column("completed", "money"), Column("outstanding", "money"))
        section = _section("backcredits", "补记 back-credits to date (annuity.ledger, "
                           "transfer.notices)", columns)
        section.checks.append("each completion credits its whole back-credit, settled over its "
                              "notices")
        for backcredit_id, data in sorted(self.backcredits.items()):
            amount = fen_of(data, "amount")
            done = self._completion(section, "back-credit", backcredit_id, amount=amount,
                                    request_id=str(data.get("request_id")),
                                    completions=self.credited_back)
            section.add(str(data.get("fiscal_entity_code")),
                        {"backcredits": 1, "requested": amount, "completed": done,
                         "outstanding": amount - done}, f"back-credit {backcredit_id}")
        self._orphans(section, "back-credit", self.credited_back, self.backcredits)
        if self.rejected:
            section.notes.append(f"{self.rejected} personnel event(s) rejected "
                                 "(annuity.hr_event.rejected.v1): `pension-ops trace` shows "
                                 "a member's events")
        return section

    def _completion(self, section: Section, noun: str, entity_id: str, *, amount: int,
                    request_id: str, completions: dict[str, dict[str, Any]]) -> int:
        """The completed amount (0 while open), checked against the request and its notices."""
        done = completions.get(entity_id)
        if done is None:
            return 0
        completed = fen_of(done, "amount")
        if completed != amount:
            section.problems.append(f"{noun} {entity_id}: completed {yuan(completed)} of "
                                    f"{yuan(amount)} requested")
        settled = self.settled_by_request.get(request_id, 0)
        if settled < amount:
            section.problems.append(f"{noun} {entity_id}: completed, but its notices settled "
                                    f"only {yuan(settled)} of {yuan(amount)}")
        return completed

    @staticmethod
    def _orphans(section: Section, noun: str, completions: dict[str, Any],
                 requests: dict[str, Any]) -> None:
        for entity_id in sorted(set(completions) - set(requests)):
            section.problems.append(f"{noun} {entity_id} completed but never requested")
