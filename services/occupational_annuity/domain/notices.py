"""What fund_transfer's notices about our requests do to them (pure).

The requests a batch's notices cover are loaded once (`Requests`) and changed here in memory, so
two notices of one request in one batch see each other as they would across batches.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.occupational_annuity.domain.interest import is_funded_in_full, topup_entries
from services.occupational_annuity.domain.remittance import is_on_time
from services.occupational_annuity.model import (
    NoticeDecision,
    NoticeOutcome,
    Remittance,
    RemittanceCompletion,
    TopupAllocation,
    TopupFunding,
)


@dataclass(slots=True)
class Requests:
    """Our requests that a batch's notices cover: remittances and top-up fundings, by id."""

    remittances: dict[str, Remittance]
    fundings: dict[str, TopupFunding]

    def covered(self, outcome: NoticeOutcome) -> list[str]:
        return sorted(i for i in set(outcome.covers) if i in self.remittances or i in self.fundings)


def apply_notice(requests: Requests, outcome: NoticeOutcome) -> NoticeDecision:
    """A settled notice completes what it covers once it brings their whole amount; a failed one
    changes nothing (its replacement follows, or the request stays open)."""
    if outcome.result == "failed":
        return NoticeDecision()
    assert outcome.value_date is not None, outcome.notice_id
    ids = requests.covered(outcome)
    remittances = [requests.remittances[i] for i in ids if i in requests.remittances]
    fundings = [requests.fundings[i] for i in ids if i in requests.fundings]
    covered_fen = sum(r.amount_fen for r in remittances) + sum(f.total_fen for f in fundings)
    if not is_funded_in_full(outcome.amount_settled_fen, covered_fen):
        return NoticeDecision(short_fen=covered_fen - outcome.amount_settled_fen)
    completions = []
    for remittance in remittances:
        if remittance.status == "completed":
            continue
        requests.remittances[remittance.remittance_id] = replace(remittance, status="completed")
        completions.append(RemittanceCompletion(
            remittance, outcome.notice_id, outcome.value_date,
            is_on_time(outcome.value_date, remittance.due_on)))
    allocations = []
    for funding in fundings:
        if funding.status != "funding":
            continue
        requests.fundings[funding.assessment_id] = replace(funding, status="allocated")
        allocations.append(TopupAllocation(funding, outcome.notice_id,
                                           tuple(topup_entries(funding, outcome.value_date))))
    return NoticeDecision(tuple(completions), tuple(allocations))
