"""Revisions register once and replace until paid; payments match, wait, settle or are refused."""

from __future__ import annotations

import datetime as dt

from services.collection.domain import OverdueRow, overdue_data
from shared.contracts.collection import ContributionOverdue
from tests.unit.collection import factory
from tests.unit.collection.ledger import Ledger, codes, kinds


def test_a_valid_declaration_registers_once_with_its_lines() -> None:
    ledger, data = Ledger(), factory.declaration(bases=("4907.00", "6000.00"))
    [emit] = ledger.one("declare", data)
    assert emit.key == data["employer_uscc"]
    assert emit.data["line_count"] == 2
    assert emit.data["replaces_revision"] is None
    assert [line["person_id"] for line in emit.data["lines"]] == [
        line["person_id"] for line in data["lines"]]
    assert "person_name" not in emit.data["lines"][0]


def test_the_same_revision_again_is_silent() -> None:
    ledger, data = Ledger(), factory.declaration()
    ledger.one("declare", data)
    assert ledger.one("declare", data) == []


def test_a_higher_revision_replaces_the_unpaid_one_and_gaps_are_allowed() -> None:
    ledger, data = Ledger(), factory.declaration()
    ledger.one("declare", data)
    [emit] = ledger.one("declare", data | {"revision": 5, "lines": [factory.line(1, "7000.00")]})
    assert kinds([emit]) == ["declaration.registered.v1"]
    assert (emit.data["revision"], emit.data["replaces_revision"]) == (5, 0)
    assert emit.data["amount_due"] == "1680.00"


def test_an_older_revision_seen_before_is_silent_and_a_new_lower_one_is_stale() -> None:
    ledger, data = Ledger(), factory.declaration()
    ledger.one("declare", data)
    ledger.one("declare", data | {"revision": 2})
    assert ledger.one("declare", data) == []  # revision 0 redelivered late: already answered
    [emit] = ledger.one("declare", data | {"revision": 1})
    assert codes(emit) == ["REVISION_STALE"]


def test_a_rejected_revision_leaves_the_current_one_in_force() -> None:
    ledger, data = Ledger(), factory.declaration()
    ledger.one("declare", data)
    ledger.one("declare", data | {"revision": 1, "region_code": "140102"})
    [settled] = ledger.one("pay", factory.payment(data["declaration_id"], "1440.00"))
    assert (settled.data["revision"], settled.data["status"]) == (0, "paid")


def test_a_revision_after_a_payment_in_the_same_batch_is_already_settled() -> None:
    ledger, data = Ledger(), factory.declaration()
    emits = ledger.batch(("declare", data),
                         ("pay", factory.payment(data["declaration_id"], "10.00")),
                         ("declare", data | {"revision": 1}))
    assert kinds(emits) == ["declaration.registered.v1", "contribution.settled.v1",
                            "declaration.rejected.v1"]
    assert codes(emits[2]) == ["ALREADY_SETTLED"]


def test_a_payment_before_its_declaration_waits_then_settles_caused_by_the_declaration() -> None:
    ledger, data = Ledger(), factory.declaration()
    assert ledger.one("pay", factory.payment(data["declaration_id"], "1000.00")) == []
    assert ledger.one("pay", factory.payment(data["declaration_id"], "440.00")) == []
    emits = ledger.one("declare", data)
    assert kinds(emits) == ["declaration.registered.v1", "contribution.settled.v1",
                            "contribution.settled.v1"]
    assert {emit.cause for emit in emits} == {0}  # the declaration: the later of two causes
    assert [e.data["status"] for e in emits[1:]] == ["underpaid", "paid"]
    assert ledger.accounts[data["declaration_id"]].waiting_count == 0


def test_waiting_payments_are_refused_when_their_declaration_is_rejected() -> None:
    ledger, data = Ledger(), factory.declaration(region_code="140102")
    payment = factory.payment(data["declaration_id"], "1440.00")
    ledger.one("pay", payment)
    emits = ledger.one("declare", data)
    assert kinds(emits) == ["declaration.rejected.v1", "payment.rejected.v1"]
    assert codes(emits[1]) == ["DECLARATION_REJECTED"]
    assert emits[1].data["payment_id"] == payment["payment_id"]
    assert ledger.payments[payment["payment_id"]].state == "rejected"


def test_a_valid_revision_after_a_rejected_one_registers() -> None:
    ledger, data = Ledger(), factory.declaration(region_code="140102")
    ledger.one("declare", data)
    [emit] = ledger.one("declare", data | {"revision": 1, "region_code": "150102"})
    assert kinds([emit]) == ["declaration.registered.v1"]


def test_the_same_payment_twice_settles_once() -> None:
    ledger, data = Ledger(), factory.declaration()
    payment = factory.payment(data["declaration_id"], "1440.00")
    assert kinds(ledger.batch(("declare", data), ("pay", payment), ("pay", payment))) == [
        "declaration.registered.v1", "contribution.settled.v1"]
    assert ledger.one("pay", payment) == []


def test_the_same_waiting_payment_twice_waits_once() -> None:
    ledger, data = Ledger(), factory.declaration()
    payment = factory.payment(data["declaration_id"], "1440.00")
    ledger.one("pay", payment)
    ledger.one("pay", payment)
    assert kinds(ledger.one("declare", data)) == [
        "declaration.registered.v1", "contribution.settled.v1"]


def test_partial_payments_add_up_and_report_the_status_after_each() -> None:
    ledger, data = Ledger(), factory.declaration()  # 1,440.00 due on 2025-03-20
    declaration_id = data["declaration_id"]
    ledger.one("declare", data)
    [first] = ledger.one("pay", factory.payment(declaration_id, "400.00", "2025-03-10"))
    [second] = ledger.one("pay", factory.payment(declaration_id, "1040.00", "2025-03-25"))
    [third] = ledger.one("pay", factory.payment(declaration_id, "60.00", "2025-03-26"))
    assert (first.data["status"], first.data["amount_outstanding"]) == ("underpaid", "1040.00")
    assert (second.data["status"], second.data["amount_paid_total"]) == ("paid", "1440.00")
    # 1,040.00 covered x 0.0005 x 5 days = 2.60
    assert (second.data["days_late"], second.data["late_fee_due"]) == (5, "2.60")
    assert (third.data["status"], third.data["late_fee_due"]) == ("overpaid", "0.00")
    assert third.data["amount_outstanding"] == "0.00"


def test_a_payment_settles_against_the_current_revision() -> None:
    ledger, data = Ledger(), factory.declaration()
    ledger.one("declare", data)
    ledger.one("declare", data | {"revision": 1, "lines": [factory.line(1, "7000.00")]})
    [settled] = ledger.one("pay", factory.payment(data["declaration_id"], "1680.00"))
    assert (settled.data["revision"], settled.data["amount_due"]) == (1, "1680.00")


def test_a_treasury_funded_annuity_is_paid_by_its_employee_share() -> None:
    ledger = Ledger()
    data = factory.declaration(scheme="occupational_annuity", unit_funding="treasury_full")
    [registered] = ledger.one("declare", data)  # 6,000.00: unit 480.00 notional, staff 240.00
    assert (registered.data["employer_total"], registered.data["amount_due"]) == (
        "480.00", "240.00")
    [settled] = ledger.one("pay", factory.payment(data["declaration_id"], "240.00"))
    assert settled.data["status"] == "paid"


def test_a_declaration_whose_id_is_malformed_is_rejected_without_a_trace_in_the_tables() -> None:
    ledger = Ledger()
    data = factory.declaration(declaration_id="bad id")
    [emit] = ledger.one("declare", data)
    assert codes(emit) == ["FIELD_INVALID"]
    assert emit.data["declaration_id"] == "bad id"
    assert ledger.revisions == {}
    assert ledger.accounts == {}


def test_an_overdue_report_fits_its_contract() -> None:
    row = OverdueRow("D-1", 2, "91110000600037341L", "150100", "2025-03", dt.date(2025, 3, 20),
                     amount_due_fen=144_000, amount_paid_fen=0)
    data = overdue_data(row, dt.date(2025, 3, 21))
    ContributionOverdue.model_validate(data)
    assert (data["days_late"], data["late_fee_accrued"]) == (1, "0.72")
