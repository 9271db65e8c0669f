"""An in-memory stand-in for collection's tables, so unit tests can play events through the Book."""

from __future__ import annotations

from typing import Any

from services.collection.domain import Account, Book, Emit, PaymentRecord
from services.collection.rules import Rules, load_rules
from services.collection.validation import check_declaration, check_payment
from shared.contracts.collection import EVENT_MODELS
from shared.contracts.wire import payload_hash

LOCAL = load_rules("local")
DECLARED = "tax.contribution.declared.v1"
PAID = "tax.contribution.paid.v1"


class Ledger:
    """Rows survive from one batch to the next, as they would in the database."""

    def __init__(self, rules: Rules = LOCAL) -> None:
        self.rules = rules
        self.accounts: dict[str, Account] = {}
        self.revisions: dict[tuple[str, int], bytes] = {}
        self.payments: dict[str, PaymentRecord] = {}
        self.waiting: dict[str, list[PaymentRecord]] = {}

    def batch(self, *events: tuple[str, dict[str, Any]]) -> list[Emit]:
        """Play (kind, data) events, kind "declare" or "pay", as one batch; what it emitted."""
        book = Book(self.accounts, self.revisions, self.payments, self.waiting)
        for cause, (kind, data) in enumerate(events):
            entity_id = str(data.get("declaration_id" if kind == "declare" else "payment_id"))
            if kind == "declare":
                check = check_declaration(data, entity_id, self.rules)
                if check.recordable:
                    self.accounts.setdefault(entity_id, Account(entity_id))
                book.declare(check, payload_hash(DECLARED, data), cause, None)
            else:
                paid = check_payment(data, entity_id)
                if paid.payment is not None:
                    declaration_id = paid.payment.declaration_id
                    self.accounts.setdefault(declaration_id, Account(declaration_id))
                book.pay(paid, payload_hash(PAID, data), cause, None)
        for emit in book.emits:  # every emitted payload is what the contract promises
            EVENT_MODELS[emit.event_type].model_validate(emit.data)
        return book.emits

    def one(self, kind: str, data: dict[str, Any]) -> list[Emit]:
        return self.batch((kind, data))


def kinds(emits: list[Emit]) -> list[str]:
    return [emit.event_type.removeprefix("collection.") for emit in emits]


def codes(emit: Emit) -> list[str]:
    return [reason["code"] for reason in emit.data["reasons"]]
