"""Registration, revisions, payments and deadlines of declarations (DOMAIN.md, CONTRACTS.md).

Pure: no await, I/O, clock reads or logging. The handler loads the rows a batch touches into a
`Book`, feeds it the batch's checked events in consumption order, then writes what the book
changed and publishes what it emitted; the book decides every outcome in memory, so a revision,
a payment and a later revision in one batch see each other exactly as they would across batches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from services.collection.validation import (
    Declaration,
    DeclarationCheck,
    Figures,
    PaymentCheck,
    Reason,
    reason,
)
from shared.contracts.collection import (
    DECLARATION_REJECTED,
    PAYMENT_REJECTED,
    REGISTERED,
    SETTLED,
)
from shared.contracts.fields import cap_reasons
from shared.money import format_yuan, late_fee_fen

AccountState = Literal["unknown", "rejected", "registered"]
PaymentState = Literal["waiting", "settled", "rejected"]
Status = Literal["paid", "underpaid", "overpaid"]


@dataclass(frozen=True, slots=True)
class Emit:
    """An event to publish; `cause` is the index of the inbound event that caused it."""

    event_type: str
    key: str
    data: dict[str, Any]
    cause: int


@dataclass(slots=True)
class Account:
    """A declaration id and where it stands: named only by waiting payments (`unknown`), only
    rejected so far, or registered with the figures of its current revision."""

    declaration_id: str
    state: AccountState = "unknown"
    figures: Figures | None = None
    amount_paid_fen: int = 0
    payment_count: int = 0
    waiting_count: int = 0


@dataclass(slots=True)
class PaymentRecord:
    """A payment id and what became of it; the money fields are None for a rejected payment."""

    payment_id: str
    declaration_id: str | None
    content_hash: bytes
    state: PaymentState = "rejected"
    e_tax_voucher_no: str | None = None
    amount_paid_fen: int | None = None
    paid_on: dt.date | None = None
    revision: int | None = None
    covered_fen: int | None = None
    days_late: int | None = None
    late_fee_fen: int | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    """One payment applied to a declaration (DOMAIN.md, "Deadlines and late fees")."""

    covered_fen: int
    days_late: int
    late_fee_fen: int
    amount_paid_total_fen: int
    amount_outstanding_fen: int
    status: Status


def settle(
    *, amount_due_fen: int, paid_before_fen: int, amount_fen: int, paid_on: dt.date,
    due_on: dt.date,
) -> Settlement:
    """The payment covers min(payment, outstanding before it); its fee is 0.05% of that per day
    late, rounded half-up; paying on the due date is on time. Status compares totals only."""
    covered_fen = min(amount_fen, max(0, amount_due_fen - paid_before_fen))
    days_late = max(0, (paid_on - due_on).days)
    total_fen = paid_before_fen + amount_fen
    status: Status = "paid" if total_fen == amount_due_fen else (
        "underpaid" if total_fen < amount_due_fen else "overpaid")
    return Settlement(
        covered_fen=covered_fen,
        days_late=days_late,
        late_fee_fen=late_fee_fen(covered_fen, days_late),
        amount_paid_total_fen=total_fen,
        amount_outstanding_fen=max(0, amount_due_fen - total_fen),
        status=status,
    )


@dataclass(frozen=True, slots=True)
class OverdueRow:
    """A registered declaration not paid in full whose due date is before the check's as_of."""

    declaration_id: str
    revision: int
    employer_uscc: str
    fiscal_entity_code: str
    fee_period: str
    due_on: dt.date
    amount_due_fen: int
    amount_paid_fen: int


def overdue_data(row: OverdueRow, as_of: dt.date) -> dict[str, Any]:
    """`collection.contribution.overdue.v1`: the fee accrues on the outstanding amount."""
    assert row.due_on < as_of, (row.declaration_id, row.due_on, as_of)
    outstanding_fen = row.amount_due_fen - row.amount_paid_fen
    assert outstanding_fen > 0, row.declaration_id
    days_late = (as_of - row.due_on).days
    return {
        "declaration_id": row.declaration_id,
        "revision": row.revision,
        "employer_uscc": row.employer_uscc,
        "fiscal_entity_code": row.fiscal_entity_code,
        "fee_period": row.fee_period,
        "due_on": row.due_on.isoformat(),
        "amount_due": format_yuan(row.amount_due_fen),
        "amount_outstanding": format_yuan(outstanding_fen),
        "days_late": days_late,
        "late_fee_accrued": format_yuan(late_fee_fen(outstanding_fen, days_late)),
        "as_of": as_of.isoformat(),
    }


def registered_data(declaration: Declaration, replaces_revision: int | None) -> dict[str, Any]:
    """`collection.declaration.registered.v1`; line amounts are the (checked) wire strings."""
    f = declaration.figures
    return {
        "declaration_id": declaration.declaration_id,
        "revision": f.revision,
        "replaces_revision": replaces_revision,
        "employer_uscc": f.employer_uscc,
        "region_code": f.region_code,
        "fiscal_entity_code": f.fiscal_entity_code,
        "scheme": f.scheme,
        "unit_funding": f.unit_funding,
        "fee_period": f.fee_period,
        "declared_on": f.declared_on.isoformat(),
        "due_on": f.due_on.isoformat(),
        "line_count": f.line_count,
        "base_total": format_yuan(f.base_total_fen),
        "employer_total": format_yuan(f.employer_total_fen),
        "employee_total": format_yuan(f.employee_total_fen),
        "amount_due": format_yuan(f.amount_due_fen),
        "rule_version": f.rule_version,
        "lines": [
            {"line_no": line["line_no"], "person_id": line["person_id"], "base": line["base"],
             "employer_amount": line["employer_amount"],
             "employee_amount": line["employee_amount"]}
            for line in declaration.wire_lines
        ],
    }


def declaration_rejected_data(
    declaration_id: str, revision: int | None, reasons: list[Reason]
) -> dict[str, Any]:
    return {"declaration_id": declaration_id, "revision": revision, "reasons": reasons}


def payment_rejected_data(
    payment_id: str, declaration_id: str | None, reasons: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"payment_id": payment_id, "declaration_id": declaration_id, "reasons": reasons}


def payment_reason(code: str, field_name: str | None, message: str) -> dict[str, Any]:
    return {"code": code, "field": field_name, "message": message}


CONFLICTING_MESSAGE: Final = "this id was already received with other content"


@dataclass(slots=True)
class Book:
    """The rows one batch touches, and every change and event the batch's events cause."""

    accounts: dict[str, Account]
    revisions: dict[tuple[str, int], bytes]
    payments: dict[str, PaymentRecord]
    waiting: dict[str, list[PaymentRecord]]
    emits: list[Emit] = field(default_factory=list)
    new_revisions: list[tuple[str, int, bytes, str]] = field(default_factory=list)
    registered: list[Declaration] = field(default_factory=list)
    changed_accounts: dict[str, Account] = field(default_factory=dict)
    touched_payments: dict[str, PaymentRecord] = field(default_factory=dict)
    created_payment_ids: set[str] = field(default_factory=set)

    # -- declarations ---------------------------------------------------------------------------

    def declare(self, check: DeclarationCheck, content_hash: bytes, cause: int,
                record_key: str | None) -> None:
        """Register, replace, ignore (same revision, same content) or reject one declaration."""
        key = check.employer_uscc or record_key or check.declaration_id
        if not check.recordable or check.revision is None:
            self._reject(check, check.reasons, key, cause)  # no id to hold it against
            return
        pair = (check.declaration_id, check.revision)
        seen = self.revisions.get(pair)
        if seen == content_hash:
            return  # the same revision again under another event id: already answered
        if seen is not None:
            conflict = reason("CONFLICTING_DUPLICATE", None, "revision",
                              f"revision {check.revision} {CONFLICTING_MESSAGE}")
            self._reject(check, [*check.reasons, conflict], key, cause)
            return
        account = self.accounts[check.declaration_id]
        reasons = [*check.reasons, *_revision_reasons(account, check.revision)]
        self.revisions[pair] = content_hash
        self.new_revisions.append((*pair, content_hash, "rejected" if reasons else "registered"))
        if reasons or check.declaration is None:
            self._reject_revision(account, check, reasons, key, cause)
        else:
            self._register(account, check.declaration, cause)

    def _reject_revision(self, account: Account, check: DeclarationCheck,
                         reasons: list[Reason], key: str, cause: int) -> None:
        """A recorded revision that failed; payments waiting for a first revision go with it."""
        self._reject(check, reasons, key, cause)
        if account.state == "unknown":
            account.state = "rejected"
            self.changed_accounts[account.declaration_id] = account
            for record in self.waiting.pop(account.declaration_id, []):
                account.waiting_count -= 1
                self._refuse(record, key, cause)

    def _reject(self, check: DeclarationCheck, reasons: list[Reason], key: str,
                cause: int) -> None:
        data = declaration_rejected_data(check.declaration_id, check.revision,
                                         cap_reasons(reasons, check.reasons_more))
        self.emits.append(Emit(DECLARATION_REJECTED, key, data, cause))

    def _register(self, account: Account, declaration: Declaration, cause: int) -> None:
        replaces = account.figures.revision if account.figures is not None else None
        account.state = "registered"
        account.figures = declaration.figures
        self.changed_accounts[account.declaration_id] = account
        self.registered.append(declaration)
        data = registered_data(declaration, replaces)
        self.emits.append(Emit(REGISTERED, declaration.figures.employer_uscc, data, cause))
        # Payments that came first settle now; their events carry this, the later, cause.
        for record in self.waiting.pop(account.declaration_id, []):
            account.waiting_count -= 1
            self._apply(account, record, cause)

    # -- payments -------------------------------------------------------------------------------

    def pay(self, check: PaymentCheck, content_hash: bytes, cause: int,
            record_key: str | None) -> None:
        """Settle, park until its declaration comes, ignore (same content) or reject a payment."""
        key = record_key or check.payment_id
        existing = self.payments.get(check.payment_id) if check.recordable else None
        if existing is not None:
            if existing.content_hash != content_hash:
                conflict = payment_reason("CONFLICTING_DUPLICATE", "payment_id",
                                          f"payment {CONFLICTING_MESSAGE}")
                self._reject_payment(check.payment_id, check.declaration_id, [conflict], key,
                                     cause)
            return  # the same payment again: settled (or refused) once already
        record = self._record_payment(check, content_hash) if check.recordable else None
        if record is None or check.payment is None:
            self._reject_payment(check.payment_id, check.declaration_id, check.reasons, key,
                                 cause)
            return
        record.e_tax_voucher_no = check.payment.e_tax_voucher_no
        record.amount_paid_fen = check.payment.amount_paid_fen
        record.paid_on = check.payment.paid_on
        self._route(self.accounts[check.payment.declaration_id], record, key, cause)

    def _record_payment(self, check: PaymentCheck, content_hash: bytes) -> PaymentRecord:
        """A new payment id: kept whatever becomes of it, so a repeat is known as one."""
        record = PaymentRecord(check.payment_id, check.declaration_id, content_hash)
        self.payments[record.payment_id] = record
        self.created_payment_ids.add(record.payment_id)
        self.touched_payments[record.payment_id] = record
        return record

    def _route(self, account: Account, record: PaymentRecord, key: str, cause: int) -> None:
        if account.state == "registered":
            self._apply(account, record, cause)
        elif account.state == "rejected":
            self._refuse(record, key, cause)
        else:
            record.state = "waiting"
            account.waiting_count += 1
            self.changed_accounts[account.declaration_id] = account
            self.waiting.setdefault(account.declaration_id, []).append(record)

    def _apply(self, account: Account, record: PaymentRecord, cause: int) -> None:
        figures = account.figures
        assert figures is not None
        assert record.amount_paid_fen is not None
        assert record.paid_on is not None
        settlement = settle(
            amount_due_fen=figures.amount_due_fen, paid_before_fen=account.amount_paid_fen,
            amount_fen=record.amount_paid_fen, paid_on=record.paid_on, due_on=figures.due_on,
        )
        account.amount_paid_fen = settlement.amount_paid_total_fen
        account.payment_count += 1
        self.changed_accounts[account.declaration_id] = account
        record.state = "settled"
        record.revision = figures.revision
        record.covered_fen = settlement.covered_fen
        record.days_late = settlement.days_late
        record.late_fee_fen = settlement.late_fee_fen
        self.touched_payments[record.payment_id] = record
        data = settled_data(account.declaration_id, figures, record, settlement)
        self.emits.append(Emit(SETTLED, figures.employer_uscc, data, cause))

    def _refuse(self, record: PaymentRecord, key: str, cause: int) -> None:
        record.state = "rejected"
        self.touched_payments[record.payment_id] = record
        refused = payment_reason("DECLARATION_REJECTED", "declaration_id",
                                 "the declaration this payment is for was rejected")
        self._reject_payment(record.payment_id, record.declaration_id, [refused], key, cause)

    def _reject_payment(self, payment_id: str, declaration_id: str | None,
                        reasons: list[dict[str, Any]], key: str, cause: int) -> None:
        data = payment_rejected_data(payment_id, declaration_id, reasons)
        self.emits.append(Emit(PAYMENT_REJECTED, key, data, cause))


def _revision_reasons(account: Account, revision: int) -> list[Reason]:
    """A revision below the registered one is stale; above it, it is too late after a payment."""
    if account.state != "registered" or account.figures is None:
        return []
    current = account.figures.revision
    assert revision != current, "the current revision is always in the revisions table"
    if revision < current:
        return [reason("REVISION_STALE", None, "revision",
                       f"revision {revision} is lower than the current revision {current}")]
    if account.payment_count > 0:
        return [reason("ALREADY_SETTLED", None, "revision",
                       f"a payment was applied to revision {current}; no new revision accepted")]
    return []


def settled_data(declaration_id: str, figures: Figures, record: PaymentRecord,
                 settlement: Settlement) -> dict[str, Any]:
    """`collection.contribution.settled.v1`: this payment and the declaration's status after it."""
    assert record.paid_on is not None
    assert record.amount_paid_fen is not None
    return {
        "declaration_id": declaration_id,
        "revision": figures.revision,
        "payment_id": record.payment_id,
        "paid_on": record.paid_on.isoformat(),
        "due_on": figures.due_on.isoformat(),
        "amount_due": format_yuan(figures.amount_due_fen),
        "amount_paid": format_yuan(record.amount_paid_fen),
        "amount_paid_total": format_yuan(settlement.amount_paid_total_fen),
        "amount_outstanding": format_yuan(settlement.amount_outstanding_fen),
        "days_late": settlement.days_late,
        "late_fee_due": format_yuan(settlement.late_fee_fen),
        "status": settlement.status,
    }
