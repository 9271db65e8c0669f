"""The nouns of fund_transfer as plain data, and the working set one batch reads and changes.

An appropriation and a request are what a partner asked for (immutable); a notice is what this
service asked finance to do (issued -> settled | failed); a settlement is what finance reported
back (it waits, unapplied, until its notice exists); an obligation is one (fiscal entity, fund,
period) with the sum due and the sum settled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from services.fund_transfer.rules import AccountBook, Deadlines, load_deadlines
from shared.contracts.assessment import AssessmentCommand

ObligationKey = tuple[str, str, str]
"""(fiscal_entity_code, fund, period)."""
BudgetKey = tuple[str, str, int]
"""(fiscal_entity_code, fund, year)."""
GapKind = Literal["missing", "below_budget"]
AccountRef = tuple[str, str]
"""(entity_code, kind)."""
Origin = Literal["appropriation", "request"]
NoticeState = Literal["issued", "settled", "failed"]
Outcome = Literal["settled", "failed"]
Side = Literal["debit", "credit"]

NOTICE_ATTEMPT_COUNT_MAX_DEFAULT = 3
"""Notices per appropriation or request: the first one and up to two replacements."""


@dataclass(frozen=True, slots=True)
class Rules:
    book: AccountBook
    notice_attempt_count_max: int = NOTICE_ATTEMPT_COUNT_MAX_DEFAULT
    deadlines: Deadlines = field(default_factory=load_deadlines)

    def __post_init__(self) -> None:
        if not 1 <= self.notice_attempt_count_max <= 100:
            raise ValueError("notice_attempt_count_max must be in 1..100")


@dataclass(frozen=True, slots=True)
class Appropriation:
    appropriation_id: str
    fiscal_entity_code: str
    fund: str
    period: str
    amount_fen: int
    due_on: dt.date
    document_no: str

    @property
    def obligation_key(self) -> ObligationKey:
        return (self.fiscal_entity_code, self.fund, self.period)


@dataclass(frozen=True, slots=True)
class Budget:
    """One revision of a budget: the monthly subsidy a league/city owes one fund in one year."""

    budget_id: str
    revision: int
    fiscal_entity_code: str
    fund: str
    year: int
    amount_per_month_fen: int
    document_no: str

    @property
    def key(self) -> BudgetKey:
        return (self.fiscal_entity_code, self.fund, self.year)

    def periods(self) -> list[str]:
        return [f"{self.year}-{month:02d}" for month in range(1, 13)]


@dataclass(frozen=True, slots=True)
class Request:
    request_id: str
    purpose: str
    fund: str
    period: str
    amount_fen: int
    source: AccountRef
    target: AccountRef
    due_on: dt.date


@dataclass(slots=True)
class Settlement:
    """A settled or failed report; `applied` is False while its notice is not known yet."""

    settlement_id: str
    notice_id: str
    outcome: Outcome
    dated_on: dt.date  # value_date of a settled report, failed_on of a failed one
    amount_fen: int | None = None
    bank_reference: str | None = None
    reason: str | None = None
    applied: bool = False

    def same_report(self, other: Settlement) -> bool:
        """Same content, whatever the applied flag: a redelivery, not a second settlement."""
        return (self.notice_id, self.outcome, self.dated_on, self.amount_fen,
                self.bank_reference, self.reason) == (
            other.notice_id, other.outcome, other.dated_on, other.amount_fen,
            other.bank_reference, other.reason)


@dataclass(slots=True)
class Notice:
    notice_id: str
    attempt: int
    purpose: str
    origin: Origin
    origin_id: str
    fund: str
    period: str
    amount_fen: int
    due_on: dt.date
    source: AccountRef
    target: AccountRef
    document_no: str | None = None
    replaces: str | None = None
    replaced_by: str | None = None
    state: NoticeState = "issued"
    settled_fen: int = 0
    bank_references: list[str] = field(default_factory=list)

    @property
    def covers(self) -> list[str]:
        return [self.origin_id]

    @property
    def obligation_key(self) -> ObligationKey | None:
        """Subsidy notices belong to an obligation; request notices to their request only."""
        if self.origin != "appropriation":
            return None
        return (self.source[0], self.fund, self.period)


@dataclass(slots=True)
class Obligation:
    fiscal_entity_code: str
    fund: str
    period: str
    amount_due_fen: int
    due_on: dt.date
    settled_fen: int = 0

    @property
    def key(self) -> ObligationKey:
        return (self.fiscal_entity_code, self.fund, self.period)

    @property
    def outstanding_fen(self) -> int:
        return max(0, self.amount_due_fen - self.settled_fen)

    @property
    def excess_fen(self) -> int:
        return max(0, self.settled_fen - self.amount_due_fen)


@dataclass(frozen=True, slots=True)
class Entry:
    account: str
    side: Side
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Journal:
    """One balanced posting; the database refuses an unbalanced one at commit as well."""

    journal_id: str
    kind: Literal["appropriation", "request", "settlement"]
    reference_id: str
    business_date: dt.date
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        debit_fen = sum(e.amount_fen for e in self.entries if e.side == "debit")
        credit_fen = sum(e.amount_fen for e in self.entries if e.side == "credit")
        if debit_fen != credit_fen or debit_fen <= 0:
            raise AssertionError(f"journal {self.journal_id}: {debit_fen} != {credit_fen}")


@dataclass(frozen=True, slots=True)
class DeadlineCheck:
    command_id: str
    as_of: dt.date


@dataclass(frozen=True, slots=True)
class ObligationState:
    """An obligation of an assessed period, with the day its settled sum reached the amount
    due (the value date of its last settlement), or None while it has not."""

    fiscal_entity_code: str
    fund: str
    amount_due_fen: int
    settled_fen: int
    due_on: dt.date
    fulfilled_on: dt.date | None


@dataclass(frozen=True, slots=True)
class Invalid:
    """A readable event that breaks its contract: answered with its `...rejected` event."""

    kind: Literal["appropriation", "settlement", "request", "command", "budget"]
    entity_id: str
    key: str
    reasons: list[dict[str, Any]]
    notice_id: str | None = None


Item = (Appropriation | Request | Settlement | DeadlineCheck | AssessmentCommand | Budget
        | Invalid)


@dataclass(frozen=True, slots=True)
class Outbound:
    """An event to publish, caused by the inbound event being applied."""

    topic: str
    key: str
    event_type: str
    data: dict[str, Any]


@dataclass(slots=True)
class Changes:
    """What a batch wrote, for the store to persist in bulk."""

    appropriations: list[Appropriation] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    settlements: dict[str, Settlement] = field(default_factory=dict)
    notices: dict[str, Notice] = field(default_factory=dict)
    obligations: dict[ObligationKey, Obligation] = field(default_factory=dict)
    shortfalls: list[tuple[ObligationKey, dt.date, int]] = field(default_factory=list)
    journals: list[Journal] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    gaps: list[tuple[ObligationKey, dt.date, GapKind, int]] = field(default_factory=list)


@dataclass(slots=True)
class WorkingSet:
    """The rows one batch needs, loaded up front, changed in memory, written back at the end."""

    appropriations: dict[str, Appropriation] = field(default_factory=dict)
    requests: dict[str, Request] = field(default_factory=dict)
    settlements: dict[str, Settlement] = field(default_factory=dict)
    notices: dict[str, Notice] = field(default_factory=dict)
    obligations: dict[ObligationKey, Obligation] = field(default_factory=dict)
    shortfalls_reported: set[tuple[ObligationKey, dt.date]] = field(default_factory=set)
    budgets: dict[str, Budget] = field(default_factory=dict)
    """By budget id: every revision this batch names, and every one in force."""
    budgets_in_force: dict[BudgetKey, Budget] = field(default_factory=dict)
    gaps_reported: set[tuple[ObligationKey, dt.date]] = field(default_factory=set)
    waiting: dict[str, list[str]] = field(default_factory=dict)
    """notice_id -> settlement ids not applied yet, in arrival order."""
    changes: Changes = field(default_factory=Changes)

    def add_waiting(self, settlement: Settlement) -> None:
        self.settlements[settlement.settlement_id] = settlement
        if not settlement.applied:
            self.waiting.setdefault(settlement.notice_id, []).append(settlement.settlement_id)

    def touch_notice(self, notice: Notice) -> None:
        self.notices[notice.notice_id] = notice
        self.changes.notices[notice.notice_id] = notice

    def touch_obligation(self, obligation: Obligation) -> None:
        self.obligations[obligation.key] = obligation
        self.changes.obligations[obligation.key] = obligation

    def touch_settlement(self, settlement: Settlement) -> None:
        self.settlements[settlement.settlement_id] = settlement
        self.changes.settlements[settlement.settlement_id] = settlement
