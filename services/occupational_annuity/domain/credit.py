"""Crediting a paid declaration to its members' sub-ledgers (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from services.occupational_annuity.domain.terms import (
    CREDITING_STATUSES,
    period_start,
    topup_interval,
)
from services.occupational_annuity.model import (
    Credit,
    CreditDecision,
    Declaration,
    DeclarationPayment,
    Entry,
    MemberCredit,
    Rules,
    SubLedger,
)

CREDITED_SUB_LEDGERS: tuple[SubLedger, ...] = ("individual_real", "unit_real", "unit_notional")


def member_credits(declaration: Declaration) -> tuple[MemberCredit, ...]:
    """Employee money is always real; the unit's is real unless the treasury funds it in full."""
    by_person: dict[str, tuple[int, int]] = {}
    for line in declaration.lines:
        employee, employer = by_person.get(line.person_id, (0, 0))
        by_person[line.person_id] = (employee + line.employee_fen, employer + line.employer_fen)
    notional = declaration.unit_funding == "treasury_full"
    return tuple(
        MemberCredit(person, employee, 0 if notional else employer, employer if notional else 0)
        for person, (employee, employer) in sorted(by_person.items())
    )


def decide_credit(
    declaration: Declaration | None, payments: Sequence[DeclarationPayment], *, credited: bool
) -> CreditDecision:
    """Credit once a paying payment of the registered revision is there; report shortfalls.

    A payment of a revision we have not seen registered waits for that revision's lines
    (collection accepts no new revision after a payment, so the paid revision is the last one).
    """
    if declaration is None:
        return CreditDecision(None, ())
    uncredited = tuple(
        p.payment_id for p in payments if p.status == "underpaid" and not p.uncredited_reported
    )
    if credited:
        return CreditDecision(None, uncredited)
    paying = next(
        (p for p in payments
         if p.status in CREDITING_STATUSES and p.revision == declaration.revision),
        None,
    )
    if paying is None:
        return CreditDecision(None, uncredited)
    return CreditDecision(Credit(declaration, paying.payment_id, member_credits(declaration)),
                          uncredited)


def topup_state(credit: Credit, rules: Rules) -> Literal["pending", "not_applicable"]:
    """Funded money collected before investment start waits for a 补息 assessment."""
    if credit.funded_fen > 0 and topup_interval(credit.declaration.fee_period, rules) is not None:
        return "pending"
    return "not_applicable"


def credit_entries(credit: Credit) -> list[Entry]:
    """The journal rows of a credit: one per member and non-empty sub-ledger, counting from the
    first day of the fee period. They add up to the credit's totals, sub-ledger by sub-ledger."""
    d = credit.declaration
    effective_on = period_start(d.fee_period)
    entries = [
        Entry(m.person_id, sub_ledger, amount_fen, d.fiscal_entity_code, d.fee_period,
              effective_on, "contribution", d.declaration_id)
        for m in credit.members
        for sub_ledger, amount_fen in zip(
            CREDITED_SUB_LEDGERS, (m.individual_real_fen, m.unit_real_fen, m.unit_notional_fen),
            strict=True)
        if amount_fen > 0
    ]
    for sub_ledger in CREDITED_SUB_LEDGERS:
        booked_fen = sum(e.amount_fen for e in entries if e.sub_ledger == sub_ledger)
        assert booked_fen == credit.total(sub_ledger), (d.declaration_id, sub_ledger)
    return entries


def collected_by_period(credits: Iterable[Credit]) -> dict[tuple[str, str], int]:
    """Funded money newly credited per (fiscal entity, fee period)."""
    collected: dict[tuple[str, str], int] = {}
    for credit in credits:
        key = (credit.declaration.fiscal_entity_code, credit.declaration.fee_period)
        collected[key] = collected.get(key, 0) + credit.funded_fen
    return collected
