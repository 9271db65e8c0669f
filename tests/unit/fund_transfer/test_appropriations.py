"""An appropriation opens or grows its obligation and issues exactly one notice, or is rejected
with every reason."""

from __future__ import annotations

from services.fund_transfer import validation
from services.fund_transfer.model import Invalid
from shared.contracts import finance, transfer
from shared.ids import notice_id_for_appropriation
from tests.unit.fund_transfer.support import RULES, Ledger, appropriation, codes, only, types


def test_the_notice_id_of_the_contracts_vector_is_reproduced() -> None:
    assert notice_id_for_appropriation("A-150200-2025-Q1-01", 0) == (
        "d0196bb2-2cbc-5166-97c9-44fcac754bd5")


def test_an_appropriation_issues_one_notice_from_the_entity_to_the_region() -> None:
    out = Ledger().appropriate()
    assert types(out) == [transfer.NOTICE_ISSUED]
    notice = out[0].data
    assert notice["notice_id"] == "d0196bb2-2cbc-5166-97c9-44fcac754bd5"
    assert (notice["attempt"], notice["purpose"], notice["replaces"]) == (
        0, "subsidy_forwarding", None)
    assert (notice["fund"], notice["period"], notice["amount"], notice["due_on"]) == (
        "institution_basic_pension", "2025-03", "12500000.00", "2025-03-31")
    assert notice["covers"] == ["A-150200-2025-Q1-01"]
    assert notice["source_account"] == {"entity_code": "150200", "kind": "special",
                                        "name": "包头市社会保障基金财政专户",
                                        "account_no": "SAMPLE-150200-01"}
    assert notice["target_account"]["entity_code"] == "150000"
    assert notice["target_account"]["kind"] == "special"
    assert out[0].key == "150200"
    assert out[0].topic == transfer.TOPIC_NOTICES


def test_a_replayed_appropriation_issues_nothing_new() -> None:
    ledger = Ledger()
    ledger.appropriate()
    assert ledger.appropriate() == []
    assert ledger.ws.obligations[("150200", "institution_basic_pension", "2025-03")] \
        .amount_due_fen == 1_250_000_000


def test_the_same_appropriation_id_with_other_content_is_a_conflicting_duplicate() -> None:
    ledger = Ledger()
    ledger.appropriate()
    out = ledger.appropriate(amount_due="1.00")
    assert types(out) == [transfer.APPROPRIATION_REJECTED]
    assert codes(out[0]) == ["CONFLICTING_DUPLICATE"]
    assert out[0].data["appropriation_id"] == "A-150200-2025-Q1-01"


def test_an_obligation_sums_its_appropriations_and_is_due_at_the_earliest_date() -> None:
    ledger = Ledger()
    ledger.appropriate(appropriation_id="A-1", amount_due="100.00", due_on="2025-03-31")
    ledger.appropriate(appropriation_id="A-2", amount_due="50.25", due_on="2025-03-20")
    obligation = ledger.ws.obligations[("150200", "institution_basic_pension", "2025-03")]
    assert obligation.amount_due_fen == 15_025
    assert obligation.due_on.isoformat() == "2025-03-20"
    assert len([n for n in ledger.ws.notices.values() if n.attempt == 0]) == 2


def test_the_region_is_not_a_valid_appropriation_source() -> None:
    out = Ledger().appropriate(fiscal_entity_code="150000")
    assert codes(out[0]) == ["ENTITY_UNKNOWN"]
    assert out[0].data["reasons"][0]["field"] == "fiscal_entity_code"


def test_a_rejection_names_every_failing_reason() -> None:
    data = appropriation(fiscal_entity_code="159900", fund="pension", amount_due=12.5,
                         due_on="2025-02-30", period="2025-13", extra="x")
    item = validation.parse(finance.APPROPRIATED, data, "159900", RULES)
    assert isinstance(item, Invalid)
    assert sorted(r["code"] for r in item.reasons) == [
        "AMOUNT_INVALID", "DATE_INVALID", "ENTITY_UNKNOWN", "FIELD_INVALID", "FIELD_INVALID",
        "FUND_UNKNOWN"]
    assert {r["field"] for r in item.reasons} == {
        "fiscal_entity_code", "fund", "amount_due", "due_on", "period", "extra"}


def test_malformed_fields_get_their_own_codes() -> None:
    cases = {
        "fiscal_entity_code": ("15020", "ENTITY_UNKNOWN"),
        "amount_due": ("0.00", "AMOUNT_INVALID"),
        "due_on": ("2025/03/31", "DATE_INVALID"),
        "document_no": ("", "FIELD_INVALID"),
        "appropriation_id": ("has space", "FIELD_INVALID"),
    }
    for field, (value, code) in cases.items():
        out = Ledger().appropriate(**{field: value})
        assert types(out) == [transfer.APPROPRIATION_REJECTED], field
        assert codes(out[0]) == [code], field


def test_an_invalid_replay_of_a_known_id_also_says_conflicting_duplicate() -> None:
    ledger = Ledger()
    ledger.appropriate()
    out = ledger.appropriate(amount_due="-1.00")
    assert codes(out[0]) == ["AMOUNT_INVALID", "CONFLICTING_DUPLICATE"]


def test_a_rejection_event_satisfies_its_contract() -> None:
    out = Ledger().appropriate(fund="x")
    transfer.AppropriationRejected.model_validate(only(out, transfer.APPROPRIATION_REJECTED))
