"""做实 and 补记 (pure): funding members' notional balances, and back-credits.

做实 moves money, it never creates it: a funding asks the treasury for each member's whole
unit_notional balance at `as_of`, and once that is settled in full the same amounts leave
unit_notional and enter unit_real. A member is funded at most once per entity: a second
retirement, or a command after the retirement funded them, funds nothing more; a member with a
zero balance is left out, and a funding with nobody in it is not made. A back-credit (补记) is
real money the former unit's treasury pays; it is credited to unit_real when settled in full.
The working set (`PersonnelBook`) holds the members and accepted events a batch reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from services.occupational_annuity.model import (
    Backcredit,
    Entry,
    FundingCause,
    FundingMember,
    MemberLedger,
    NotionalFunding,
    PersonnelDecision,
    PersonnelEvent,
    Rules,
    SubLedger,
    TransferRequest,
)
from shared.ids import backcredit_request_id, notional_funding_id

Member = tuple[str, str]
"""(person_id, fiscal_entity_code)."""
_MOVE: tuple[tuple[SubLedger, int], ...] = (("unit_notional", -1), ("unit_real", 1))


def reason(code: str, field_name: str | None, message: str) -> dict[str, Any]:
    return {"code": code, "field": field_name, "message": message}


@dataclass(slots=True)
class PersonnelBook:
    """What a batch of personnel events reads and changes: the members they name, the events
    accepted before (id -> content hash), and what the batch decided to ask for."""

    members: dict[Member, MemberLedger]
    accepted: dict[tuple[str, str], bytes]
    new_events: list[PersonnelEvent] = field(default_factory=list)
    fundings: list[NotionalFunding] = field(default_factory=list)
    backcredits: list[Backcredit] = field(default_factory=list)

    def mark_funded(self, funding: NotionalFunding) -> None:
        for member in funding.members:
            key = (member.person_id, funding.fiscal_entity_code)
            self.members[key] = replace(self.members[key], funded=True)
        self.fundings.append(funding)


def member_reasons(event: PersonnelEvent, member: MemberLedger | None) -> list[dict[str, Any]]:
    """What only the ledger can say: never credited at that entity (another entity's member,
    or one whose credits have not arrived yet), or retired before the first credited period."""
    if event.person_id is None or event.fiscal_entity_code is None:
        return []
    if member is None or member.first_credit_on is None:
        return [reason("MEMBER_UNKNOWN", "person_id", "no annuity credit was ever seen for this "
                       f"person at fiscal entity {event.fiscal_entity_code}")]
    if event.kind == "retirement" and event.dated_on is not None \
            and event.dated_on < member.first_credit_on:
        return [reason("DATE_INVALID", "retired_on", "retired before the member's first credited "
                       f"fee period ({member.first_credit_on.isoformat()[:7]})")]
    return []


def apply_personnel(book: PersonnelBook, event: PersonnelEvent, rules: Rules) -> PersonnelDecision:
    """Reject with every reason, ignore a repeat, or accept and ask for the money."""
    stored = book.accepted.get((event.kind, event.event_id))
    if stored == event.content_hash:
        return PersonnelDecision(event, repeat=True)  # accepted before: no second effect
    member = None
    if event.person_id is not None and event.fiscal_entity_code is not None:
        member = book.members.get((event.person_id, event.fiscal_entity_code))
    reasons = [*event.reasons, *member_reasons(event, member)]
    if stored is not None:
        reasons.append(reason("CONFLICTING_DUPLICATE", f"{event.kind}_id",
                              "already received with other content"))
    if reasons:
        return PersonnelDecision(event, reasons=tuple(reasons))
    assert member is not None, event.event_id
    assert event.dated_on is not None, event.event_id
    book.accepted[(event.kind, event.event_id)] = event.content_hash
    book.new_events.append(event)
    if event.kind == "backcredit":
        backcredit = backcredit_of(event, rules)
        book.backcredits.append(backcredit)
        return PersonnelDecision(event, backcredit=backcredit)
    funding = fund_members(member.fiscal_entity_code, "retirement", event.event_id,
                           as_of=event.dated_on, members=[member], rules=rules)
    if funding is not None:
        book.mark_funded(funding)
    return PersonnelDecision(event, funding=funding)


def fund_members(fiscal_entity_code: str, cause: FundingCause, cause_id: str, *,
                 as_of: dt.date, members: Iterable[MemberLedger],
                 rules: Rules) -> NotionalFunding | None:
    """Each member's whole notional balance at `as_of`; funded or zero-balance members left
    out; None when nobody is left. Members in person_id order; they sum to the total."""
    funded = tuple(FundingMember(m.person_id, balance_fen)
                   for m in sorted(members, key=lambda m: m.person_id)
                   if not m.funded and (balance_fen := m.notional_fen(as_of)) > 0)
    if not funded:
        return None
    total_fen = sum(m.amount_fen for m in funded)
    return NotionalFunding(
        notional_funding_id(fiscal_entity_code, cause, cause_id), fiscal_entity_code, cause,
        cause_id, as_of, as_of + dt.timedelta(days=rules.notional_funding_days), funded,
        total_fen)


def backcredit_of(event: PersonnelEvent, rules: Rules) -> Backcredit:
    person_id, entity, recorded_on = event.person_id, event.fiscal_entity_code, event.dated_on
    assert person_id is not None, event.event_id
    assert entity is not None, event.event_id
    assert recorded_on is not None, event.event_id
    assert event.amount_fen is not None, event.event_id
    assert event.amount_fen > 0, event.event_id
    return Backcredit(
        event.event_id, backcredit_request_id(entity, event.event_id), person_id, entity,
        event.amount_fen, recorded_on,
        recorded_on + dt.timedelta(days=rules.backcredit_funding_days), event.document_no or "")


def funding_request(funding: NotionalFunding) -> TransferRequest:
    return TransferRequest(funding.funding_id, "annuity_notional_funding",
                           funding.fiscal_entity_code, funding.total_fen)


def backcredit_request(backcredit: Backcredit) -> TransferRequest:
    return TransferRequest(backcredit.request_id, "annuity_backcredit",
                           backcredit.fiscal_entity_code, backcredit.amount_fen)


def funding_entries(funding: NotionalFunding, value_date: dt.date) -> list[Entry]:
    """Each member's amount out of unit_notional and into unit_real, as of the day the money
    arrived: the entries sum to zero (moved, never created), the real ones to the total."""
    entries = [
        Entry(m.person_id, sub_ledger, sign * m.amount_fen, funding.fiscal_entity_code, None,
              value_date, "notional_funding", funding.funding_id)
        for m in funding.members
        for sub_ledger, sign in _MOVE
    ]
    assert sum(e.amount_fen for e in entries) == 0, funding.funding_id
    assert sum(e.amount_fen for e in entries if e.amount_fen > 0) == funding.total_fen
    return entries


def backcredit_entries(backcredit: Backcredit, value_date: dt.date) -> list[Entry]:
    return [Entry(backcredit.person_id, "unit_real", backcredit.amount_fen,
                  backcredit.fiscal_entity_code, None, value_date, "backcredit",
                  backcredit.backcredit_id)]
