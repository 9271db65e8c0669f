"""Every journal balances, a claim's receivable is its outstanding amount, and the account book
holds the region and the 14 entities with labelled sample numbers."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from services.fund_transfer import rules as book
from services.fund_transfer.domain import ledger as scheme
from services.fund_transfer.model import Entry, Journal
from services.fund_transfer.rules import ACCOUNT_KINDS, load_account_book
from tests.unit.fund_transfer.support import RULES, Ledger, date, first_notice, request_notice

KEY = ("150200", "institution_basic_pension", "2025-03")
SAMPLE_BOOK = Path(book.__file__).parent / "rules" / "accounts.json"


def balances(ledger: Ledger) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for journal in ledger.ws.changes.journals:
        for entry in journal.entries:
            sign = 1 if entry.side == "debit" else -1
            totals[entry.account] += sign * entry.amount_fen
    return dict(totals)


def test_a_journal_that_does_not_balance_cannot_be_built() -> None:
    with pytest.raises(AssertionError):
        Journal("x", "settlement", "x", date("2025-01-01"),
                (Entry("a", "debit", 2), Entry("b", "credit", 1)))


def test_the_receivable_of_an_obligation_is_due_minus_settled() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    ledger.settle("S-1", first_notice(), "400.00")
    claim = scheme.obligation_claim(KEY)
    totals = balances(ledger)
    assert totals[scheme.receivable(claim)] == 60_000
    assert totals[scheme.payable(claim)] == -60_000
    assert totals["bank:150000/special"] == 40_000
    assert totals["bank:150200/special"] == -40_000
    assert sum(totals.values()) == 0


def test_an_excess_stays_visible_as_a_negative_receivable() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    ledger.settle("S-1", first_notice(), "1200.00")
    assert balances(ledger)[scheme.receivable(scheme.obligation_claim(KEY))] == -20_000


def test_one_journal_per_appropriation_request_and_settlement_none_per_failure() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    ledger.request(request_id="R-1")
    ledger.fail("F-1", first_notice())
    ledger.settle("S-1", request_notice("R-1"), "800.00")
    assert [j.journal_id for j in ledger.ws.changes.journals] == [
        "appropriation/A-150200-2025-Q1-01", "request/R-1", "settlement/S-1"]
    assert balances(ledger)["bank:150000/annuity_collection"] == 80_000


def test_the_book_has_the_region_and_fourteen_sources_with_both_accounts() -> None:
    book = RULES.book
    assert book.region_code == "150000"
    assert len(book.subsidy_sources) == 14
    assert not book.is_subsidy_source("150000")
    assert {"150781", "152501", "152900"} <= book.subsidy_sources
    for code in [*book.subsidy_sources, "150000"]:
        for kind in ACCOUNT_KINDS:
            account = book.account(code, kind)
            assert account is not None
            assert account.account_no.startswith("SAMPLE-")


def test_a_book_with_an_unlabelled_sample_number_does_not_load(tmp_path: Path) -> None:
    text = SAMPLE_BOOK.read_text("utf-8")
    data = json.loads(text)
    data["entities"][1]["accounts"][0]["account_no"] = "6222000000000001"
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    with pytest.raises(ValueError, match="SAMPLE-"):
        load_account_book(path)


def test_a_book_missing_an_account_does_not_load(tmp_path: Path) -> None:
    data = json.loads(SAMPLE_BOOK.read_text("utf-8"))
    data["entities"][2]["accounts"].pop()
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    with pytest.raises(ValueError, match="missing"):
        load_account_book(path)
