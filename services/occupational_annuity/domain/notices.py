"""What fund_transfer's notices about our requests do to them (pure).

A request completes when the money settled over all its notices reaches its amount (CONTRACTS.md,
annuity.ledger): a notice settled in part and then failed brings its part, the replacement for
the remainder the rest. Completing a request completes what it funds: a remittance, a top-up
allocated to its members, a 做实 funding moved from notional to real, a back-credit credited.
The requests a batch's notices cover are loaded once (`Requests`) and
changed here in memory, so two notices of one request in one batch see each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from services.occupational_annuity.domain.funding import backcredit_entries, funding_entries
from services.occupational_annuity.domain.interest import topup_entries
from services.occupational_annuity.domain.remittance import is_on_time
from services.occupational_annuity.model import (
    Backcredit,
    BackcreditCompletion,
    FundingCompletion,
    NoticeDecision,
    NoticeOutcome,
    NotionalFunding,
    Remittance,
    RemittanceCompletion,
    RemittancePlan,
    TopupAllocation,
    TopupAssessment,
    TopupFunding,
    TransferRequest,
)


@dataclass(slots=True)
class Requests:
    """Our requests that a batch's notices cover, with what each funds, by request id."""

    transfers: dict[str, TransferRequest]
    remittances: dict[str, Remittance]
    fundings: dict[str, TopupFunding]
    notional: dict[str, NotionalFunding] = field(default_factory=dict)
    backcredits: dict[str, Backcredit] = field(default_factory=dict)  # by request id
    changed: dict[str, TransferRequest] = field(default_factory=dict)

    def covered(self, outcome: NoticeOutcome) -> list[str]:
        return sorted(set(outcome.covers) & self.transfers.keys())

    def update(self, request: TransferRequest) -> None:
        self.transfers[request.request_id] = request
        self.changed[request.request_id] = request


def remittance_request(plan: RemittancePlan) -> TransferRequest:
    return TransferRequest(plan.remittance_id, "annuity_remittance", plan.fiscal_entity_code,
                           plan.amount_fen)


def topup_request(assessment: TopupAssessment) -> TransferRequest:
    return TransferRequest(assessment.assessment_id, "annuity_interest_topup",
                           assessment.fiscal_entity_code, assessment.total_fen)


def shares(settled_fen: int, requests: Sequence[TransferRequest]) -> list[int]:
    """A notice's money over the requests it covers (one, in practice): each up to what it
    still lacks, in id order, anything beyond to the last. The shares sum to the money."""
    if not requests:
        return []
    parts = []
    left_fen = settled_fen
    for request in requests[:-1]:
        part = min(left_fen, request.outstanding_fen)
        parts.append(part)
        left_fen -= part
    parts.append(left_fen)
    assert sum(parts) == settled_fen, (settled_fen, parts)
    return parts


def apply_notice(requests: Requests, outcome: NoticeOutcome) -> NoticeDecision:
    """Add the notice's settled money to each request it covers; complete those that reach their
    amount. Only a settled notice completes: it carries the value date of the money."""
    covered = [requests.transfers[i] for i in requests.covered(outcome)]
    completed: list[TransferRequest] = []
    for request, part_fen in zip(covered, shares(outcome.amount_settled_fen, covered),
                                 strict=True):
        updated = replace(request, settled_fen=request.settled_fen + part_fen)
        if not request.completed and updated.outstanding_fen == 0 and outcome.value_date:
            updated = replace(updated, completed_by=outcome.notice_id,
                              value_date=outcome.value_date)
            completed.append(updated)
        requests.update(updated)
    short_fen = sum(requests.transfers[r.request_id].outstanding_fen for r in covered)
    return NoticeDecision(
        completions=tuple(c for r in completed if (c := _remittance(requests, r)) is not None),
        allocations=tuple(a for r in completed if (a := _topup(requests, r)) is not None),
        fundings=tuple(f for r in completed if (f := _funding(requests, r)) is not None),
        backcredits=tuple(b for r in completed if (b := _backcredit(requests, r)) is not None),
        short_fen=short_fen)


def _paid(request: TransferRequest) -> tuple[str, dt.date]:
    assert request.completed_by is not None, request.request_id
    assert request.value_date is not None, request.request_id
    return request.completed_by, request.value_date


def _remittance(requests: Requests, request: TransferRequest) -> RemittanceCompletion | None:
    remittance = requests.remittances.get(request.request_id)
    if remittance is None or remittance.status == "completed":
        return None
    notice_id, value_date = _paid(request)
    requests.remittances[request.request_id] = replace(remittance, status="completed")
    return RemittanceCompletion(remittance, notice_id, value_date,
                                is_on_time(value_date, remittance.due_on))


def _topup(requests: Requests, request: TransferRequest) -> TopupAllocation | None:
    funding = requests.fundings.get(request.request_id)
    if funding is None or funding.status != "funding":
        return None
    notice_id, value_date = _paid(request)
    requests.fundings[request.request_id] = replace(funding, status="allocated")
    return TopupAllocation(funding, notice_id, tuple(topup_entries(funding, value_date)))


def _funding(requests: Requests, request: TransferRequest) -> FundingCompletion | None:
    funding = requests.notional.get(request.request_id)
    if funding is None or funding.status == "completed":
        return None
    notice_id, value_date = _paid(request)
    requests.notional[request.request_id] = replace(funding, status="completed")
    return FundingCompletion(funding, notice_id, value_date,
                             tuple(funding_entries(funding, value_date)))


def _backcredit(requests: Requests, request: TransferRequest) -> BackcreditCompletion | None:
    backcredit = requests.backcredits.get(request.request_id)
    if backcredit is None or backcredit.status == "completed":
        return None
    notice_id, value_date = _paid(request)
    requests.backcredits[request.request_id] = replace(backcredit, status="completed")
    return BackcreditCompletion(backcredit, notice_id, value_date,
                                tuple(backcredit_entries(backcredit, value_date)))
