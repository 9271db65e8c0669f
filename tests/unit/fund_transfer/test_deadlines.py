"""A deadline check reports each open obligation past its due date once per check date, and a
shortfall that closes later is fulfilled with its days late."""

from __future__ import annotations

from shared.contracts import transfer
from tests.unit.fund_transfer.support import Ledger, first_notice, only, types


def short_ledger() -> Ledger:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00", due_on="2025-03-31")
    ledger.settle("S-1", first_notice(), "250.00", value_date="2025-03-30")
    return ledger


def test_the_due_date_itself_is_still_on_time() -> None:
    assert short_ledger().check("2025-03-31") == []


def test_a_shortfall_is_reported_once_per_check_date() -> None:
    ledger = short_ledger()
    out = ledger.check("2025-04-01")
    assert types(out) == [transfer.OBLIGATION_SHORTFALL]
    shortfall = out[0].data
    assert (shortfall["amount_due"], shortfall["amount_settled"],
            shortfall["amount_outstanding"]) == ("1000.00", "250.00", "750.00")
    assert (shortfall["as_of"], shortfall["due_on"], shortfall["days_late"]) == (
        "2025-04-01", "2025-03-31", 1)
    assert (out[0].topic, out[0].key) == (transfer.TOPIC_OBLIGATIONS, "150200")
    assert ledger.check("2025-04-01", command_id="C-2") == []


def test_a_later_check_reports_an_open_obligation_again() -> None:
    ledger = short_ledger()
    ledger.check("2025-04-01")
    out = ledger.check("2025-04-02")
    assert types(out) == [transfer.OBLIGATION_SHORTFALL]
    assert out[0].data["days_late"] == 2


def test_a_second_check_of_one_date_reports_only_what_became_past_due_since() -> None:
    ledger = short_ledger()
    ledger.check("2025-04-05")
    ledger.appropriate(appropriation_id="A-other", fiscal_entity_code="150300",
                       due_on="2025-04-01", amount_due="5.00")
    out = ledger.check("2025-04-05", command_id="C-2")
    assert [e.data["fiscal_entity_code"] for e in out] == ["150300"]


def test_a_shortfall_that_closes_later_is_fulfilled_with_its_days_late() -> None:
    ledger = short_ledger()
    ledger.check("2025-04-01")
    out = ledger.settle("S-2", first_notice(), "750.00", value_date="2025-04-03")
    fulfilled = only(out, transfer.OBLIGATION_FULFILLED)
    assert (fulfilled["as_of"], fulfilled["days_late"], fulfilled["amount_settled"]) == (
        "2025-04-03", 3, "1000.00")
    assert ledger.check("2025-04-04") == []


def test_an_obligation_settled_in_full_is_not_short() -> None:
    ledger = short_ledger()
    ledger.settle("S-2", first_notice(), "750.00")
    assert ledger.check("2025-05-01") == []


def test_a_malformed_check_is_rejected_as_a_command() -> None:
    out = Ledger().check("2025-02-30")
    assert types(out) == ["ops.command.rejected.v1"]
    assert (out[0].topic, out[0].key) == ("ops.commands", "fund_transfer")
    assert out[0].data["service"] == "fund_transfer"
    assert [r["code"] for r in out[0].data["reasons"]] == ["DATE_INVALID"]
