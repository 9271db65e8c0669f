"""The double-entry scheme of fund_transfer, in integer fen (pure: builds journals, stores nothing).

Every claim (an obligation, or a transfer request) has two ledger accounts:
- `receivable:<claim>`: what the region may still claim from the paying entity. Debited by the
  appropriation (or request), credited by each settlement, so its balance is
  due - settled = outstanding, and negative when more was settled than due (an excess that
  stays visible; nothing absorbs it).
- `payable:<claim>`: the paying entity's mirror liability (credited by the appropriation,
  debited by each settlement).
Money itself moves between `bank:<entity>/<kind>` accounts: a settlement credits the source
account and debits the target account. A failure moves no money and posts nothing.

So one journal per appropriation or request (2 entries) and one per settlement (4 entries); each
balances, which the database checks again at commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from services.fund_transfer.model import (
    AccountRef,
    Appropriation,
    Entry,
    Journal,
    Notice,
    ObligationKey,
    Request,
    Settlement,
)


def obligation_claim(key: ObligationKey) -> str:
    return "obligation/{}/{}/{}".format(*key)


def request_claim(request_id: str) -> str:
    return f"request/{request_id}"


def receivable(claim: str) -> str:
    return f"receivable:{claim}"


def payable(claim: str) -> str:
    return f"payable:{claim}"


def bank(account: AccountRef) -> str:
    return f"bank:{account[0]}/{account[1]}"


def notice_claim(notice: Notice) -> str:
    key = notice.obligation_key
    return obligation_claim(key) if key is not None else request_claim(notice.origin_id)


def appropriation_journal(appropriation: Appropriation) -> Journal:
    claim = obligation_claim(appropriation.obligation_key)
    return _claim_journal("appropriation", appropriation.appropriation_id, appropriation.due_on,
                          claim, appropriation.amount_fen)


def request_journal(request: Request) -> Journal:
    return _claim_journal("request", request.request_id, request.due_on,
                          request_claim(request.request_id), request.amount_fen)


def settlement_journal(notice: Notice, settlement: Settlement) -> Journal:
    amount_fen = settlement.amount_fen
    if amount_fen is None:
        raise AssertionError(f"settlement {settlement.settlement_id} carries no money")
    claim = notice_claim(notice)
    return Journal(
        journal_id=f"settlement/{settlement.settlement_id}",
        kind="settlement",
        reference_id=settlement.settlement_id,
        business_date=settlement.dated_on,
        entries=(
            Entry(bank(notice.target), "debit", amount_fen),
            Entry(bank(notice.source), "credit", amount_fen),
            Entry(payable(claim), "debit", amount_fen),
            Entry(receivable(claim), "credit", amount_fen),
        ),
    )


def _claim_journal(kind: Literal["appropriation", "request"], reference_id: str,
                   business_date: dt.date, claim: str, amount_fen: int) -> Journal:
    return Journal(
        journal_id=f"{kind}/{reference_id}",
        kind=kind,
        reference_id=reference_id,
        business_date=business_date,
        entries=(Entry(receivable(claim), "debit", amount_fen),
                 Entry(payable(claim), "credit", amount_fen)),
    )
