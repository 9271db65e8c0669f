"""Crediting a paid declaration to its members' sub-ledgers (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from services.occupational_annuity.domain.terms import (
    CREDITING_STATUSES,
    Rules,
    UnitFunding,
    topup_interval,
)


@dataclass(frozen=True, slots=True)
class Line:
    person_id: str
    employer_fen: int
    employee_fen: int


@dataclass(frozen=True, slots=True)
class Declaration:
    """The latest registered revision of an occupational annuity declaration."""

    declaration_id: str
    revision: int
    fiscal_entity_code: str
    fee_period: str
    unit_funding: UnitFunding
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Settlement:
    """One `collection.contribution.settled.v1`, in arrival order."""

    payment_id: str
    declaration_id: str
    revision: int
    status: str
    uncredited_reported: bool


@dataclass(frozen=True, slots=True)
class MemberCredit:
    person_id: str
    individual_real_fen: int
    unit_real_fen: int
    unit_notional_fen: int

    @property
    def funded_fen(self) -> int:
        return self.individual_real_fen + self.unit_real_fen


@dataclass(frozen=True, slots=True)
class Credit:
    declaration: Declaration
    payment_id: str
    members: tuple[MemberCredit, ...]

    def total(self, sub_ledger: str) -> int:
        return sum(getattr(member, f"{sub_ledger}_fen") for member in self.members)

    @property
    def funded_fen(self) -> int:
        return self.total("individual_real") + self.total("unit_real")


@dataclass(frozen=True, slots=True)
class CreditDecision:
    credit: Credit | None
    uncredited_payment_ids: tuple[str, ...]


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
    declaration: Declaration | None, settlements: Sequence[Settlement], *, credited: bool
) -> CreditDecision:
    """Credit once a paying settlement of the registered revision is there; report shortfalls.

    A settlement of a revision we have not seen registered waits for that revision's lines
    (collection accepts no new revision after a payment, so the paid revision is the last one).
    """
    if declaration is None:
        return CreditDecision(None, ())
    uncredited = tuple(
        s.payment_id for s in settlements if s.status == "underpaid" and not s.uncredited_reported
    )
    if credited:
        return CreditDecision(None, uncredited)
    paying = next(
        (s for s in settlements
         if s.status in CREDITING_STATUSES and s.revision == declaration.revision),
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
