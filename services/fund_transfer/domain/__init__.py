"""The rules of fund_transfer (DOMAIN.md "Fiscal subsidies"; CONTRACTS.md `transfer.*`).

Pure: no await, no I/O, no clock, no logging. `apply` takes one validated item and the batch's
working set, changes the working set in memory and returns the events to publish.

- An obligation is one (fiscal entity, fund, period); its amount due is the sum of its
  appropriations. "In full" compares the sum settled for the obligation with the sum due: less
  after the due date is a shortfall, more is an overpayment, which is reported and kept (the
  ledger's receivable goes negative), never absorbed.
- Each appropriation and each transfer request gets one notice (attempt 0). A failed notice is
  replaced once by a notice for the unsettled remainder (attempt + 1, same due date) until
  `notice_attempt_count_max` notices exist; the last failure is replaced by nothing.
- A settlement counts once per `settlement_id`; one for a notice not issued yet waits.
- The settlement that brings an obligation from short to at least its due amount fulfils it;
  if it also goes past the due amount, the obligation is then reported overpaid as well (one
  event each: open -> fulfilled -> overpaid), and each later settlement re-reports the excess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from services.fund_transfer import events
from services.fund_transfer.domain import budgets, ledger
from services.fund_transfer.model import (
    Appropriation,
    Budget,
    BudgetKey,
    DeadlineCheck,
    Invalid,
    Item,
    Notice,
    Obligation,
    ObligationKey,
    Origin,
    Outbound,
    Request,
    Rules,
    Settlement,
    WorkingSet,
)
from services.fund_transfer.validation import conflicting_duplicate
from shared.ids import notice_id_for_appropriation, notice_id_for_request

SUBSIDY_PURPOSE = "subsidy_forwarding"


@dataclass(slots=True)
class Needs:
    """The rows a batch must read (and lock) before any of its items can be applied."""

    appropriation_ids: set[str] = field(default_factory=set)
    request_ids: set[str] = field(default_factory=set)
    settlement_ids: set[str] = field(default_factory=set)
    notice_ids: set[str] = field(default_factory=set)
    obligation_keys: set[ObligationKey] = field(default_factory=set)
    deadline_dates: set[dt.date] = field(default_factory=set)
    budget_ids: set[str] = field(default_factory=set)
    budget_keys: set[BudgetKey] = field(default_factory=set)


def notice_id(origin: Origin, origin_id: str, attempt: int) -> str:
    if origin == "appropriation":
        return notice_id_for_appropriation(origin_id, attempt)
    return notice_id_for_request(origin_id, attempt)


def notice_ids_of(origin: Origin, origin_id: str, rules: Rules) -> list[str]:
    """Every notice an appropriation or request can ever have: bounded by the attempt limit."""
    return [notice_id(origin, origin_id, a) for a in range(rules.notice_attempt_count_max)]


def needs(items: Iterable[Item], rules: Rules) -> Needs:
    wanted = Needs()
    for item in items:
        if isinstance(item, Appropriation):
            wanted.appropriation_ids.add(item.appropriation_id)
            wanted.obligation_keys.add(item.obligation_key)
            wanted.notice_ids.update(notice_ids_of("appropriation", item.appropriation_id, rules))
        elif isinstance(item, Request):
            wanted.request_ids.add(item.request_id)
            wanted.notice_ids.update(notice_ids_of("request", item.request_id, rules))
        elif isinstance(item, Settlement):
            wanted.settlement_ids.add(item.settlement_id)
            wanted.notice_ids.add(item.notice_id)
        elif isinstance(item, DeadlineCheck):
            wanted.deadline_dates.add(item.as_of)
        elif isinstance(item, Budget):
            wanted.budget_ids.add(item.budget_id)
            wanted.budget_keys.add(item.key)
        elif isinstance(item, Invalid):
            _need_invalid(wanted, item)
    return wanted


def _need_invalid(wanted: Needs, item: Invalid) -> None:
    """An invalid event whose id is already known with other content is also a conflict."""
    ids = {"appropriation": wanted.appropriation_ids, "request": wanted.request_ids,
           "settlement": wanted.settlement_ids, "budget": wanted.budget_ids}.get(item.kind)
    if ids is not None:
        ids.add(item.entity_id)


def apply(ws: WorkingSet, item: Item, rules: Rules) -> list[Outbound]:
    if isinstance(item, Appropriation):
        return appropriate(ws, item, rules)
    if isinstance(item, Request):
        return request_transfer(ws, item, rules)
    if isinstance(item, Settlement):
        return report_settlement(ws, item, rules)
    if isinstance(item, DeadlineCheck):
        return [*check_deadlines(ws, item.as_of), *budgets.check_budgets(ws, item.as_of, rules)]
    if isinstance(item, Budget):
        return budgets.record_budget(ws, item)
    # An assessment reads the tables, not the working set: the handler runs it (handlers.py).
    assert isinstance(item, Invalid), type(item).__name__
    return [events.rejected(with_known_conflict(ws, item))]


def with_known_conflict(ws: WorkingSet, item: Invalid) -> Invalid:
    """Add CONFLICTING_DUPLICATE when the id is already stored: it names every reason."""
    by_kind: dict[str, Mapping[str, object]] = {
        "appropriation": ws.appropriations, "request": ws.requests, "settlement": ws.settlements,
        "budget": ws.budgets}
    stored = by_kind.get(item.kind, {})
    codes = {r["code"] for r in item.reasons}
    if item.entity_id not in stored or "CONFLICTING_DUPLICATE" in codes:
        return item
    extra = conflicting_duplicate(f"{item.kind}_id", "already received with other content")
    return Invalid(item.kind, item.entity_id, item.key, [*item.reasons, extra], item.notice_id)


def _duplicate(kind: Literal["appropriation", "settlement", "request"], entity_id: str, key: str,
               notice_id_: str | None = None) -> Outbound:
    reason = conflicting_duplicate(f"{kind}_id", "already received with other content")
    return events.rejected(Invalid(kind, entity_id, key, [reason], notice_id_))


def appropriate(ws: WorkingSet, item: Appropriation, rules: Rules) -> list[Outbound]:
    stored = ws.appropriations.get(item.appropriation_id)
    if stored is not None:  # a replay, maybe under another event id: nothing new unless changed
        if stored == item:
            return []
        return [_duplicate("appropriation", item.appropriation_id, item.fiscal_entity_code)]
    ws.appropriations[item.appropriation_id] = item
    ws.changes.appropriations.append(item)
    _add_to_obligation(ws, item)
    ws.changes.journals.append(ledger.appropriation_journal(item))
    notice = Notice(
        notice_id=notice_id("appropriation", item.appropriation_id, 0), attempt=0,
        purpose=SUBSIDY_PURPOSE, origin="appropriation", origin_id=item.appropriation_id,
        fund=item.fund, period=item.period, amount_fen=item.amount_fen, due_on=item.due_on,
        source=(item.fiscal_entity_code, "special"), target=(rules.book.region_code, "special"),
        document_no=item.document_no,
    )
    return issue(ws, notice, rules)


def _add_to_obligation(ws: WorkingSet, item: Appropriation) -> None:
    obligation = ws.obligations.get(item.obligation_key)
    if obligation is None:
        obligation = Obligation(item.fiscal_entity_code, item.fund, item.period,
                                amount_due_fen=0, due_on=item.due_on)
    obligation.amount_due_fen += item.amount_fen
    # Appropriations of one obligation normally share a due date. When they do not, the
    # obligation is due at the earliest: "in full by the due date" must hold for every part of
    # it, so a later date on one appropriation cannot postpone the money of another.
    obligation.due_on = min(obligation.due_on, item.due_on)
    ws.touch_obligation(obligation)


def request_transfer(ws: WorkingSet, item: Request, rules: Rules) -> list[Outbound]:
    stored = ws.requests.get(item.request_id)
    if stored is not None:
        if stored == item:
            return []
        return [_duplicate("request", item.request_id, item.source[0])]
    ws.requests[item.request_id] = item
    ws.changes.requests.append(item)
    ws.changes.journals.append(ledger.request_journal(item))
    notice = Notice(
        notice_id=notice_id("request", item.request_id, 0), attempt=0, purpose=item.purpose,
        origin="request", origin_id=item.request_id, fund=item.fund, period=item.period,
        amount_fen=item.amount_fen, due_on=item.due_on, source=item.source, target=item.target,
    )
    return issue(ws, notice, rules)


def issue(ws: WorkingSet, notice: Notice, rules: Rules) -> list[Outbound]:
    """Issue a notice, then apply what finance already reported for it, in arrival order."""
    ws.touch_notice(notice)
    out = [events.notice_issued(notice, rules)]
    for settlement_id in ws.waiting.pop(notice.notice_id, []):
        out += apply_settlement(ws, notice, ws.settlements[settlement_id], rules)
    return out


def report_settlement(ws: WorkingSet, item: Settlement, rules: Rules) -> list[Outbound]:
    stored = ws.settlements.get(item.settlement_id)
    if stored is not None:  # the same settlement_id counts once
        if stored.same_report(item):
            return []
        return [_duplicate("settlement", item.settlement_id, _settlement_key(ws, item),
                           item.notice_id)]
    ws.touch_settlement(item)
    notice = ws.notices.get(item.notice_id)
    if notice is None:  # finance was faster than our notice: wait for it
        ws.add_waiting(item)
        return []
    return apply_settlement(ws, notice, item, rules)


def _settlement_key(ws: WorkingSet, item: Settlement) -> str:
    notice = ws.notices.get(item.notice_id)
    return notice.source[0] if notice is not None else item.notice_id


def apply_settlement(
    ws: WorkingSet, notice: Notice, settlement: Settlement, rules: Rules
) -> list[Outbound]:
    settlement.applied = True
    ws.touch_settlement(settlement)
    if settlement.outcome == "settled":
        return _settle(ws, notice, settlement)
    return _fail(ws, notice, settlement, rules)


def _settle(ws: WorkingSet, notice: Notice, settlement: Settlement) -> list[Outbound]:
    amount_fen = settlement.amount_fen
    assert amount_fen is not None, settlement.settlement_id
    assert settlement.bank_reference is not None, settlement.settlement_id
    notice.settled_fen += amount_fen
    notice.bank_references.append(settlement.bank_reference)
    ws.touch_notice(notice)
    ws.changes.journals.append(ledger.settlement_journal(notice, settlement))
    out: list[Outbound] = []
    # Money that arrives on a failed (replaced) notice still counts for the obligation below.
    if notice.state == "issued" and notice.settled_fen >= notice.amount_fen:
        notice.state = "settled"
        out.append(events.notice_settled(notice, settlement.dated_on))
    key = notice.obligation_key
    if key is not None:
        out += _settle_obligation(ws, ws.obligations[key], amount_fen, settlement.dated_on)
    return out


def _settle_obligation(
    ws: WorkingSet, obligation: Obligation, amount_fen: int, value_date: dt.date
) -> list[Outbound]:
    settled_before_fen = obligation.settled_fen
    obligation.settled_fen += amount_fen
    ws.touch_obligation(obligation)
    out: list[Outbound] = []
    if settled_before_fen < obligation.amount_due_fen <= obligation.settled_fen:
        out.append(events.obligation_fulfilled(obligation, value_date))
    if obligation.excess_fen > 0:
        out.append(events.obligation_overpaid(obligation, value_date))
    return out


def _fail(ws: WorkingSet, notice: Notice, settlement: Settlement, rules: Rules) -> list[Outbound]:
    if notice.state != "issued":  # already settled or already replaced: kept on record only
        return []
    assert settlement.reason is not None
    notice.state = "failed"
    remainder_fen = notice.amount_fen - notice.settled_fen
    replacement = None
    if notice.attempt + 1 < rules.notice_attempt_count_max:
        replacement = _replacement(notice, remainder_fen)
        notice.replaced_by = replacement.notice_id
    ws.touch_notice(notice)
    out = [events.notice_failed(notice, settlement.reason, settlement.dated_on)]
    if replacement is not None:
        out += issue(ws, replacement, rules)
    return out


def _replacement(notice: Notice, remainder_fen: int) -> Notice:
    attempt = notice.attempt + 1
    return Notice(
        notice_id=notice_id(notice.origin, notice.origin_id, attempt), attempt=attempt,
        purpose=notice.purpose, origin=notice.origin, origin_id=notice.origin_id,
        fund=notice.fund, period=notice.period, amount_fen=remainder_fen,
        due_on=notice.due_on,  # CONTRACTS.md: a replacement keeps the due date it replaces
        source=notice.source, target=notice.target, document_no=notice.document_no,
        replaces=notice.notice_id,
    )


def check_deadlines(ws: WorkingSet, as_of: dt.date) -> list[Outbound]:
    """Every obligation past due with money outstanding, at most once per `as_of` date.

    Past due means `as_of` is after the due date; the due date itself is still on time.
    """
    out: list[Outbound] = []
    for key in sorted(ws.obligations):
        obligation = ws.obligations[key]
        if obligation.due_on >= as_of or obligation.outstanding_fen == 0:
            continue
        if (key, as_of) in ws.shortfalls_reported:
            continue
        ws.shortfalls_reported.add((key, as_of))
        ws.changes.shortfalls.append((key, as_of, obligation.outstanding_fen))
        out.append(events.obligation_shortfall(obligation, as_of))
    return out
