"""A request completes when the money settled over all its notices reaches its amount: a partly
settled notice that fails and its replacement for the remainder count together."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from services.occupational_annuity import domain
from services.occupational_annuity.model import (
    NoticeDecision,
    NoticeOutcome,
    NoticeResult,
    Remittance,
    TopupFunding,
    TopupMember,
    TransferRequest,
)
from shared.ids import notice_id_for_request, remittance_id, topup_assessment_id
from tests.unit.occupational_annuity.support import ALICE, BOB

REMITTANCE = remittance_id("150200", "2025-03", 0)
TOPUP = topup_assessment_id("150300", "2019-11", 0)


def requests() -> domain.Requests:
    return domain.Requests(
        transfers={REMITTANCE: TransferRequest(REMITTANCE, "annuity_remittance", "150200", 58_884),
                   TOPUP: TransferRequest(TOPUP, "annuity_interest_topup", "150300", 2_260)},
        remittances={REMITTANCE: Remittance(REMITTANCE, "150200", "2025-03", 0, 58_884,
                                            dt.date(2025, 4, 15), "requested")},
        fundings={TOPUP: TopupFunding(TOPUP, "150300", "2019-11", 2_260, "funding",
                                      (TopupMember(ALICE, 94_884, 1_285),
                                       TopupMember(BOB, 72_000, 975)))},
    )


def outcome(request_id: str, attempt: int, result: NoticeResult, amount_fen: int,
            settled_fen: int, on: dt.date | None = None) -> NoticeOutcome:
    return NoticeOutcome(notice_id_for_request(request_id, attempt), attempt, "x",
                         (request_id,), amount_fen, settled_fen, result, value_date=on)


def test_a_partly_settled_failed_notice_and_its_replacement_complete_the_remittance() -> None:
    book = requests()
    failed = domain.apply_notice(book, outcome(REMITTANCE, 0, "failed", 58_884, 30_000))
    assert (failed.completions, failed.short_fen) == ((), 28_884)
    settled = domain.apply_notice(
        book, outcome(REMITTANCE, 1, "settled", 28_884, 28_884, dt.date(2025, 4, 16)))
    [completion] = settled.completions
    assert (completion.notice_id, completion.value_date, completion.on_time) == (
        notice_id_for_request(REMITTANCE, 1), dt.date(2025, 4, 16), False)
    assert book.changed[REMITTANCE].settled_fen == 58_884
    assert settled.short_fen == 0


def test_a_settled_notice_for_less_than_the_request_completes_nothing_yet() -> None:
    book = requests()
    decision = domain.apply_notice(
        book, outcome(TOPUP, 0, "settled", 2_260, 2_000, dt.date(2025, 6, 10)))
    assert (decision.allocations, decision.short_fen) == ((), 260)
    decision = domain.apply_notice(
        book, outcome(TOPUP, 1, "settled", 260, 260, dt.date(2025, 6, 12)))
    [allocation] = decision.allocations
    assert [(e.person_id, e.amount_fen, e.effective_on) for e in allocation.entries] == [
        (ALICE, 1_285, dt.date(2025, 6, 12)), (BOB, 975, dt.date(2025, 6, 12))]


def test_a_completed_request_is_not_completed_again() -> None:
    book = requests()
    settle = outcome(REMITTANCE, 0, "settled", 58_884, 58_884, dt.date(2025, 4, 14))
    assert len(domain.apply_notice(book, settle).completions) == 1
    again = outcome(REMITTANCE, 1, "settled", 1, 1, dt.date(2025, 4, 15))
    assert domain.apply_notice(book, again).completions == ()


def test_a_notice_covering_nothing_of_ours_changes_nothing() -> None:
    book = requests()
    decision = domain.apply_notice(book, outcome("A-other", 0, "settled", 5, 5,
                                                 dt.date(2025, 4, 14)))
    assert decision == NoticeDecision()
    assert book.changed == {}


@given(st.integers(0, 10**9), st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 10**6)),
                                     min_size=1, max_size=5))
def test_a_notices_money_is_shared_without_a_fen_lost(
        settled_fen: int, figures: list[tuple[int, int]]) -> None:
    covered = [TransferRequest(f"R-{n}", "annuity_remittance", "150200", amount, settled)
               for n, (amount, settled) in enumerate(figures)]
    parts = domain.shares(settled_fen, covered)
    assert sum(parts) == settled_fen
    assert all(part <= r.outstanding_fen for part, r in zip(parts[:-1], covered, strict=False))
