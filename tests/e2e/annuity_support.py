"""What collection publishes about occupational annuity declarations, as the annuity e2e tests
feed it: registered declarations with 8% / 4% lines, their payments, and the record lists."""

from __future__ import annotations

import uuid
from typing import Any

from shared.contracts import collection
from shared.money import amount_for_rate, format_yuan, parse_yuan
from tests.support import cloudevent, publish

ALICE = "11010519491231002X"
BOB = "150102198001010014"
CAROL = "150102199001010019"
DAVE = "152921199001010013"
USCC = "91110000600037341L"
Records = list[tuple[str, bytes | None, bytes | None]]  # (topic, key, value)


def run_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ---- what the other services publish ------------------------------------------------------------


def registered(declaration_id: str, entity: str, period: str, unit_funding: str | None,
               people: list[tuple[str, int]], revision: int = 0,
               scheme: str = "occupational_annuity") -> dict[str, Any]:
    """collection.declaration.registered.v1 with lines of 8% / 4% of each base (in fen)."""
    lines: list[dict[str, Any]] = [
        {"line_no": n, "person_id": person, "base": format_yuan(base),
         "employer_amount": format_yuan(amount_for_rate(base, 800)),
         "employee_amount": format_yuan(amount_for_rate(base, 400))}
        for n, (person, base) in enumerate(people, start=1)
    ]
    employer = sum(parse_yuan(line["employer_amount"]) for line in lines)
    employee = sum(parse_yuan(line["employee_amount"]) for line in lines)
    due = employee if unit_funding == "treasury_full" else employer + employee
    data = {
        "declaration_id": declaration_id, "revision": revision,
        "replaces_revision": revision - 1 if revision else None, "employer_uscc": USCC,
        "region_code": entity[:4] + "02", "fiscal_entity_code": entity, "scheme": scheme,
        "unit_funding": unit_funding, "fee_period": period, "declared_on": f"{period}-10",
        "due_on": f"{period}-20", "line_count": len(lines),
        "base_total": format_yuan(sum(b for _, b in people)),
        "employer_total": format_yuan(employer), "employee_total": format_yuan(employee),
        "amount_due": format_yuan(due), "rule_version": "collection/local-sample/1",
        "lines": lines,
    }
    collection.DeclarationRegistered.model_validate(data)  # exactly what collection publishes
    return data


def amount_due(declaration: dict[str, Any]) -> int:
    return parse_yuan(declaration["amount_due"])


def settled(declaration: dict[str, Any], payment_id: str, paid_fen: int,
            total_paid_fen: int | None = None) -> dict[str, Any]:
    due = amount_due(declaration)
    total = paid_fen if total_paid_fen is None else total_paid_fen
    status = "paid" if total == due else ("underpaid" if total < due else "overpaid")
    data = {
        "declaration_id": declaration["declaration_id"], "revision": declaration["revision"],
        "payment_id": payment_id, "paid_on": f"{declaration['fee_period']}-15",
        "due_on": declaration["due_on"],
        "amount_due": format_yuan(due), "amount_paid": format_yuan(paid_fen),
        "amount_paid_total": format_yuan(total),
        "amount_outstanding": format_yuan(max(due - total, 0)),
        "days_late": 0, "late_fee_due": "0.00", "status": status,
    }
    collection.ContributionSettled.model_validate(data)
    return data


def rejected(declaration_id: str) -> dict[str, Any]:
    return collection.DeclarationRejected(
        declaration_id=declaration_id, revision=0, reasons=[collection.DeclarationReason(
            code="REGION_UNKNOWN", line_no=None, field="region_code", message="not ours")],
    ).model_dump()


def collection_records(*events: tuple[str, dict[str, Any]]) -> Records:
    return [("collection.declarations", USCC.encode(),
             cloudevent(event_type, data, source="/collection")) for event_type, data in events]


def declared_and_paid(declaration: dict[str, Any]) -> Records:
    return collection_records(
        ("collection.declaration.registered.v1", declaration),
        ("collection.contribution.settled.v1",
         settled(declaration, run_id("P"), amount_due(declaration))))


async def publish_records(namespace: str, records: Records) -> None:
    """Each topic's records in their order, to the topics of the namespace."""
    for topic in dict.fromkeys(topic for topic, _, _ in records):
        await publish(f"{namespace}.{topic}",
                      [(key, value) for t, key, value in records if t == topic])
