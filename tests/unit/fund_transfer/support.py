"""Builders for fund_transfer's unit tests: wire payloads and a ledger kept in memory."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from services.fund_transfer import domain, validation
from services.fund_transfer.model import Outbound, Rules, WorkingSet
from services.fund_transfer.rules import load_account_book
from shared.contracts import finance, transfer
from shared.ids import notice_id_for_appropriation, notice_id_for_request

RULES = Rules(load_account_book(), notice_attempt_count_max=3)
DEADLINE_CHECK = "ops.deadline_check.requested.v1"


def appropriation(appropriation_id: str = "A-150200-2025-Q1-01", **changes: Any) -> dict[str, Any]:
    data = {
        "appropriation_id": appropriation_id, "fiscal_entity_code": "150200",
        "fund": "institution_basic_pension", "period": "2025-03", "amount_due": "12500000.00",
        "due_on": "2025-03-31", "document_no": "包财社〔2025〕12号",
    }
    return data | changes


def settled(settlement_id: str, notice_id: str, amount: str, value_date: str = "2025-03-28",
            **changes: Any) -> dict[str, Any]:
    data = {"settlement_id": settlement_id, "notice_id": notice_id, "amount_settled": amount,
            "value_date": value_date, "bank_reference": f"BR-{settlement_id}"}
    return data | changes


def failed(settlement_id: str, notice_id: str, failed_on: str = "2025-03-25",
           **changes: Any) -> dict[str, Any]:
    data = {"settlement_id": settlement_id, "notice_id": notice_id,
            "reason": "account frozen", "failed_on": failed_on}
    return data | changes


def request(request_id: str = "R-1", **changes: Any) -> dict[str, Any]:
    data = {
        "request_id": request_id, "purpose": "annuity_remittance",
        "fund": "occupational_annuity", "period": "2025-03", "amount": "800.00",
        "source": {"entity_code": "150200", "kind": "annuity_collection"},
        "target": {"entity_code": "150000", "kind": "annuity_collection"},
        "due_on": "2025-04-15",
    }
    return data | changes


def first_notice(appropriation_id: str = "A-150200-2025-Q1-01") -> str:
    return notice_id_for_appropriation(appropriation_id, 0)


def request_notice(request_id: str, attempt: int = 0) -> str:
    return notice_id_for_request(request_id, attempt)


@dataclass
class Ledger:
    """The domain over a working set that outlives batches, as the database would."""

    rules: Rules = RULES
    ws: WorkingSet = field(default_factory=WorkingSet)
    published: list[Outbound] = field(default_factory=list)

    def send(self, event_type: str, data: dict[str, Any], key: str = "150200") -> list[Outbound]:
        item = validation.parse(event_type, data, key, self.rules)
        out = domain.apply(self.ws, item, self.rules)
        self.published += out
        return out

    def appropriate(self, **changes: Any) -> list[Outbound]:
        data = appropriation(**changes)
        return self.send(finance.APPROPRIATED, data, data["fiscal_entity_code"])

    def settle(self, *args: Any, **changes: Any) -> list[Outbound]:
        return self.send(finance.SETTLED, settled(*args, **changes))

    def fail(self, *args: Any, **changes: Any) -> list[Outbound]:
        return self.send(finance.FAILED, failed(*args, **changes))

    def request(self, **changes: Any) -> list[Outbound]:
        return self.send(transfer.REQUESTED, request(**changes))

    def check(self, as_of: str, command_id: str = "C-1") -> list[Outbound]:
        return self.send(DEADLINE_CHECK, {"command_id": command_id, "as_of": as_of}, "all")


def types(events: list[Outbound]) -> list[str]:
    return [e.event_type for e in events]


def only(events: list[Outbound], event_type: str) -> dict[str, Any]:
    matching = [e.data for e in events if e.event_type == event_type]
    assert len(matching) == 1, (event_type, types(events))
    return matching[0]


def codes(event: Outbound) -> list[str]:
    return sorted(r["code"] for r in event.data["reasons"])


def date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
