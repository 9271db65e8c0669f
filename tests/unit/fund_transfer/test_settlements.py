"""Settlements add up once each, settle a notice once, report an overpayment, wait for a notice
not issued yet, and a failure brings one replacement per attempt up to the limit."""

from __future__ import annotations

from services.fund_transfer.model import Rules
from shared.contracts import transfer
from shared.ids import notice_id_for_appropriation
from tests.unit.fund_transfer.support import (
    RULES,
    Ledger,
    codes,
    first_notice,
    only,
    types,
)

KEY = ("150200", "institution_basic_pension", "2025-03")


def test_partial_settlements_add_up_and_settle_the_notice_once() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    assert ledger.settle("S-1", first_notice(), "400.00") == []
    out = ledger.settle("S-2", first_notice(), "600.00", value_date="2025-03-31")
    assert types(out) == [transfer.NOTICE_SETTLED, transfer.OBLIGATION_FULFILLED]
    settled = only(out, transfer.NOTICE_SETTLED)
    assert (settled["amount"], settled["amount_settled"], settled["value_date"]) == (
        "1000.00", "1000.00", "2025-03-31")
    assert settled["bank_references"] == ["BR-S-1", "BR-S-2"]
    assert settled["covers"] == ["A-150200-2025-Q1-01"]
    fulfilled = only(out, transfer.OBLIGATION_FULFILLED)
    assert (fulfilled["as_of"], fulfilled["days_late"], fulfilled["amount_settled"]) == (
        "2025-03-31", 0, "1000.00")


def test_the_same_settlement_id_counts_once() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    ledger.settle("S-1", first_notice(), "400.00")
    assert ledger.settle("S-1", first_notice(), "400.00") == []
    assert ledger.ws.notices[first_notice()].settled_fen == 40_000
    assert ledger.ws.obligations[KEY].settled_fen == 40_000


def test_the_same_settlement_id_with_other_content_is_rejected() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    ledger.settle("S-1", first_notice(), "400.00")
    out = ledger.settle("S-1", first_notice(), "500.00")
    assert types(out) == [transfer.SETTLEMENT_REJECTED]
    assert codes(out[0]) == ["CONFLICTING_DUPLICATE"]
    assert out[0].data["notice_id"] == first_notice()
    assert ledger.ws.obligations[KEY].settled_fen == 40_000
    assert types(ledger.fail("S-1", first_notice())) == [transfer.SETTLEMENT_REJECTED]


def test_a_settlement_past_the_amount_is_kept_and_reported_as_overpaid() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    out = ledger.settle("S-1", first_notice(), "1000.50", value_date="2025-04-02")
    assert types(out) == [transfer.NOTICE_SETTLED, transfer.OBLIGATION_FULFILLED,
                          transfer.OBLIGATION_OVERPAID]
    assert only(out, transfer.NOTICE_SETTLED)["amount_settled"] == "1000.50"
    overpaid = only(out, transfer.OBLIGATION_OVERPAID)
    assert (overpaid["amount_excess"], overpaid["amount_settled"], overpaid["days_late"]) == (
        "0.50", "1000.50", 2)
    more = ledger.settle("S-2", first_notice(), "1.00")
    assert types(more) == [transfer.OBLIGATION_OVERPAID]
    assert more[0].data["amount_excess"] == "1.50"
    assert ledger.ws.obligations[KEY].settled_fen == 100_150


def test_a_settlement_before_its_notice_waits_and_applies_when_the_notice_exists() -> None:
    ledger = Ledger()
    assert ledger.settle("S-1", first_notice(), "1000.00", value_date="2025-03-30") == []
    assert ledger.ws.settlements["S-1"].applied is False
    out = ledger.appropriate(amount_due="1000.00")
    assert types(out) == [transfer.NOTICE_ISSUED, transfer.NOTICE_SETTLED,
                          transfer.OBLIGATION_FULFILLED]
    assert ledger.ws.settlements["S-1"].applied is True
    assert ledger.ws.waiting == {}


def test_a_failure_replaces_the_notice_for_the_unsettled_remainder() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    ledger.settle("S-1", first_notice(), "300.00")
    out = ledger.fail("F-1", first_notice())
    assert types(out) == [transfer.NOTICE_FAILED, transfer.NOTICE_ISSUED]
    replacement_id = notice_id_for_appropriation("A-150200-2025-Q1-01", 1)
    failed = only(out, transfer.NOTICE_FAILED)
    assert (failed["replaced_by"], failed["amount_settled"], failed["reason"]) == (
        replacement_id, "300.00", "account frozen")
    issued = only(out, transfer.NOTICE_ISSUED)
    assert (issued["notice_id"], issued["attempt"], issued["replaces"]) == (
        replacement_id, 1, first_notice())
    assert (issued["amount"], issued["due_on"], issued["covers"]) == (
        "700.00", "2025-03-31", ["A-150200-2025-Q1-01"])
    done = ledger.settle("S-2", replacement_id, "700.00")
    assert types(done) == [transfer.NOTICE_SETTLED, transfer.OBLIGATION_FULFILLED]


def test_a_second_failure_report_of_one_notice_brings_no_second_replacement() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    ledger.fail("F-1", first_notice())
    assert ledger.fail("F-2", first_notice()) == []
    assert len(ledger.ws.notices) == 2


def test_after_the_last_attempt_a_failure_has_no_replacement() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    for attempt in range(RULES.notice_attempt_count_max - 1):
        out = ledger.fail(f"F-{attempt}", notice_id_for_appropriation("A-150200-2025-Q1-01",
                                                                      attempt))
        assert types(out) == [transfer.NOTICE_FAILED, transfer.NOTICE_ISSUED]
    last = notice_id_for_appropriation("A-150200-2025-Q1-01", RULES.notice_attempt_count_max - 1)
    out = ledger.fail("F-last", last)
    assert types(out) == [transfer.NOTICE_FAILED]
    assert out[0].data["replaced_by"] is None
    assert len(ledger.ws.notices) == RULES.notice_attempt_count_max
    assert types(ledger.check("2025-04-01")) == [transfer.OBLIGATION_SHORTFALL]


def test_the_attempt_limit_is_a_setting() -> None:
    ledger = Ledger(rules=Rules(RULES.book, notice_attempt_count_max=1))
    ledger.appropriate(amount_due="1000.00")
    out = ledger.fail("F-1", first_notice())
    assert out[0].data["replaced_by"] is None


def test_a_failure_reported_before_its_notice_replaces_it_when_it_is_issued() -> None:
    ledger = Ledger()
    ledger.fail("F-1", first_notice())
    out = ledger.appropriate(amount_due="1000.00")
    assert types(out) == [transfer.NOTICE_ISSUED, transfer.NOTICE_FAILED,
                          transfer.NOTICE_ISSUED]


def test_money_on_a_replaced_notice_still_counts_for_the_obligation() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    ledger.fail("F-1", first_notice())
    replacement_id = notice_id_for_appropriation("A-150200-2025-Q1-01", 1)
    ledger.settle("S-late", first_notice(), "1000.00")
    out = ledger.settle("S-2", replacement_id, "1000.00")
    assert types(out) == [transfer.NOTICE_SETTLED, transfer.OBLIGATION_OVERPAID]
    assert only(out, transfer.OBLIGATION_OVERPAID)["amount_excess"] == "1000.00"


def test_a_malformed_settlement_is_rejected_with_every_reason() -> None:
    ledger = Ledger()
    out = ledger.settle("S-1", first_notice(), "1,000.00", value_date="2025-02-30",
                        bank_reference=7)
    assert types(out) == [transfer.SETTLEMENT_REJECTED]
    assert codes(out[0]) == ["AMOUNT_INVALID", "DATE_INVALID", "FIELD_INVALID"]
    out = ledger.fail("F-1", first_notice(), failed_on="yesterday", reason="")
    assert codes(out[0]) == ["DATE_INVALID", "FIELD_INVALID"]
    transfer.SettlementRejected.model_validate(out[0].data)
