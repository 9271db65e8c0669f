"""Budgets of the local subsidies and the checks of appropriations against them (policy 二(一)2,
二(二)5: subsidies forwarded 足额 and budgets arranged 足额).

Pure. A budget is regional finance's monthly amount for one league/city, fund and year; the
revision with the highest number is in force. "In full" was measured only against what a
league/city appropriated itself; with a budget, a month past its appropriation's due date
(rules/deadlines.json) with no appropriation is reported missing, one appropriated below the
budget is reported below budget: each once per check date, like shortfalls, until it is made up.
"""

from __future__ import annotations

import datetime as dt

from services.fund_transfer import events
from services.fund_transfer.model import (
    Budget,
    GapKind,
    Invalid,
    Outbound,
    Rules,
    WorkingSet,
)
from services.fund_transfer.validation import conflicting_duplicate, reason


def record_budget(ws: WorkingSet, item: Budget) -> list[Outbound]:
    key = item.fiscal_entity_code  # the record's key, by contract
    stored = ws.budgets.get(item.budget_id)
    if stored is not None:  # a replay, maybe under another event id: nothing new unless changed
        if stored == item:
            return []
        return [events.rejected(Invalid("budget", item.budget_id, key, [conflicting_duplicate(
            "budget_id", "already received with other content")]))]
    current = ws.budgets_in_force.get(item.key)
    if current is not None and item.revision <= current.revision:
        return [events.rejected(Invalid("budget", item.budget_id, key, [reason(
            "REVISION_STALE", "revision",
            f"revision {item.revision} is not above the revision in force {current.revision}",
        )]))]
    ws.budgets[item.budget_id] = item
    ws.budgets_in_force[item.key] = item
    ws.changes.budgets.append(item)
    return [events.budget_recorded(item, current.revision if current is not None else None)]


def check_budgets(ws: WorkingSet, as_of: dt.date, rules: Rules) -> list[Outbound]:
    """Every budgeted month past its appropriation's due date and appropriated below the
    budget (nothing at all: missing), at most once per `as_of` date."""
    out: list[Outbound] = []
    for budget_key in sorted(ws.budgets_in_force):
        budget = ws.budgets_in_force[budget_key]
        for period in budget.periods():
            due_on = rules.deadlines.appropriation_due_on(period)
            key = (budget.fiscal_entity_code, budget.fund, period)
            if due_on >= as_of or (key, as_of) in ws.gaps_reported:
                continue
            obligation = ws.obligations.get(key)
            appropriated_fen = obligation.amount_due_fen if obligation is not None else 0
            short_fen = budget.amount_per_month_fen - appropriated_fen
            if short_fen <= 0:
                continue
            kind: GapKind = "missing" if appropriated_fen == 0 else "below_budget"
            ws.gaps_reported.add((key, as_of))
            ws.changes.gaps.append((key, as_of, kind, short_fen))
            out.append(events.budget_gap(kind, budget, period, appropriated_fen=appropriated_fen,
                                         due_on=due_on, as_of=as_of,
                                         rule_version=rules.deadlines.rule_version))
    return out
