"""The contract modules cover every fund_transfer type, and every event the domain publishes
validates against its model."""

from __future__ import annotations

from shared.contracts import finance, transfer
from shared.contracts.registry import ENTITY_FIELDS
from tests.unit.fund_transfer.support import Ledger, first_notice


def test_every_model_names_its_entity_id_field() -> None:
    for models in (finance.EVENT_MODELS, transfer.EVENT_MODELS):
        for event_type, model in models.items():
            assert ENTITY_FIELDS[event_type] in model.model_fields, event_type


def test_every_event_the_domain_publishes_validates_against_its_model() -> None:
    ledger = Ledger()
    ledger.appropriate(amount_due="1000.00")
    ledger.settle("S-1", first_notice(), "100.00")
    ledger.fail("F-1", first_notice())
    ledger.check("2025-04-01")
    ledger.request(request_id="R-1", amount="1.00")
    ledger.appropriate(appropriation_id="A-2", fiscal_entity_code="150300", amount_due="1.00")
    ledger.settle("S-2", "f5d1c1f0-0000-5000-8000-000000000000", "x")
    ledger.send(finance.APPROPRIATED, {"appropriation_id": "A-3"})
    seen = set()
    for event in ledger.published:
        transfer.EVENT_MODELS[event.event_type].model_validate(event.data)
        seen.add(event.event_type)
    assert {transfer.NOTICE_ISSUED, transfer.NOTICE_FAILED, transfer.OBLIGATION_SHORTFALL,
            transfer.SETTLEMENT_REJECTED, transfer.APPROPRIATION_REJECTED} <= seen

