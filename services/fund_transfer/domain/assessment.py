"""fund_transfer's part of the assessment (考核) of each league/city for a period (policy 二(一)1,
二(二)4): its subsidy obligations (both funds), how many were forwarded in full and in full by
their due date, the money due, settled and short, the days its obligations stayed open past
their due dates, and the budgeted months with no appropriation or one below the budget.

Pure. A share is basis points rounded down; an obligation open past its due date counts the
days up to the day it was fulfilled, or up to `as_of` while it is not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from services.fund_transfer.model import Budget, ObligationState, Rules
from shared.contracts.assessment import AssessmentCommand, share_bp
from shared.ids import assessment_id
from shared.money import format_yuan


def entity_data(entity: str, obligations: Iterable[ObligationState],
                budgets: Mapping[str, Budget], command: AssessmentCommand,
                rules: Rules) -> dict[str, Any]:
    """`transfer.assessment.computed.v1` of one entity; `budgets` are its budgets in force for
    the period's year, by fund."""
    mine = list(obligations)
    # Fulfilled as of `as_of`: a later settlement does not rewrite an earlier assessment date.
    in_full = [o for o in mine if o.fulfilled_on is not None and o.fulfilled_on <= command.as_of]
    on_time = [o for o in in_full if o.fulfilled_on is not None and o.fulfilled_on <= o.due_on]
    due_on = rules.deadlines.appropriation_due_on(command.period)
    appropriated = {o.fund: o.amount_due_fen for o in mine}
    gaps = [appropriated.get(fund, 0) for fund, budget in budgets.items()
            if due_on < command.as_of and appropriated.get(fund, 0) < budget.amount_per_month_fen]
    return {
        "assessment_id": assessment_id("fund_transfer", entity, command.period,
                                       command.command_id),
        "command_id": command.command_id, "fiscal_entity_code": entity,
        "period": command.period, "as_of": command.as_of.isoformat(),
        "rule_version": rules.deadlines.rule_version,
        "obligations": len(mine), "forwarded_in_full": len(in_full),
        "forwarded_on_time": len(on_time),
        "share_forwarded_on_time_bp": share_bp(len(on_time), len(mine)),
        "amount_due": format_yuan(sum(o.amount_due_fen for o in mine)),
        "amount_settled": format_yuan(sum(o.settled_fen for o in mine)),
        "amount_short": format_yuan(sum(max(0, o.amount_due_fen - o.settled_fen)
                                        for o in mine)),
        "shortfall_days_open": sum(_days_open(o, command.as_of) for o in mine),
        "appropriations_missing": sum(1 for fen in gaps if fen == 0),
        "appropriations_below_budget": sum(1 for fen in gaps if fen > 0),
    }


def _days_open(obligation: ObligationState, as_of: dt.date) -> int:
    end = obligation.fulfilled_on or as_of
    return max(0, (min(end, as_of) - obligation.due_on).days)
