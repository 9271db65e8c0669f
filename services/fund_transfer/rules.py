"""The account book: fiscal entities and their accounts, as data (DOMAIN.md, "Accounts"); and
the deadline rules of budgets (rules/deadlines.json, versioned).

The book is read once at start-up from a JSON file (by default the packaged
`rules/accounts.json`, whose account numbers are labelled samples) and checked whole: a book with
a missing account or an unlabelled sample number stops the service before it consumes anything.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.fields import Code6, Name
from shared.contracts.transfer import Account, AccountKind, AccountNo

ACCOUNT_KINDS: Final[tuple[AccountKind, ...]] = ("special", "annuity_collection")
SAMPLE_PREFIX: Final = "SAMPLE-"


class _File(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class _AccountEntry(_File):
    kind: AccountKind
    name: Name
    account_no: AccountNo


class _EntityEntry(_File):
    entity_code: Code6
    name: Name
    role: Literal["region", "league_city", "separately_planned"]
    accounts: Annotated[list[_AccountEntry], Field(min_length=1)]


class _BookFile(_File):
    description: str
    sample_account_numbers: bool
    issuing_authority: Name
    region_entity_code: Code6
    entities: list[_EntityEntry]


@dataclass(frozen=True, slots=True)
class AccountBook:
    """Who may appropriate, and which account each (entity, kind) names."""

    issuing_authority: str
    region_code: str
    entity_names: dict[str, str]
    subsidy_sources: frozenset[str]
    accounts: dict[tuple[str, str], Account]

    def account(self, entity_code: str, kind: str) -> Account | None:
        return self.accounts.get((entity_code, kind))

    def knows(self, entity_code: str) -> bool:
        return entity_code in self.entity_names

    def is_subsidy_source(self, entity_code: str) -> bool:
        """The 14 league/city entities; the region (150000) receives, it never appropriates."""
        return entity_code in self.subsidy_sources


def load_account_book(path: Path | None = None) -> AccountBook:
    """Read and check the book; `path=None` reads the packaged sample book."""
    if path is None:
        text = resources.files(__package__).joinpath("rules", "accounts.json").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return _build(_BookFile.model_validate(json.loads(text)))


def _build(book: _BookFile) -> AccountBook:
    codes = [entity.entity_code for entity in book.entities]
    if len(set(codes)) != len(codes):
        raise ValueError("account book: an entity code is listed twice")
    regions = [e.entity_code for e in book.entities if e.role == "region"]
    if regions != [book.region_entity_code]:
        raise ValueError(f"account book: exactly the region {book.region_entity_code} is region")
    accounts: dict[tuple[str, str], Account] = {}
    for entity in book.entities:
        for entry in entity.accounts:
            _check_sample_label(book, entry)
            key = (entity.entity_code, entry.kind)
            if key in accounts:
                raise ValueError(f"account book: {key} listed twice")
            accounts[key] = Account(entity_code=entity.entity_code, kind=entry.kind,
                                    name=entry.name, account_no=entry.account_no)
    missing = [(c, k) for c in codes for k in ACCOUNT_KINDS if (c, k) not in accounts]
    if missing:
        raise ValueError(f"account book: accounts missing: {missing}")
    return AccountBook(
        issuing_authority=book.issuing_authority,
        region_code=book.region_entity_code,
        entity_names={e.entity_code: e.name for e in book.entities},
        subsidy_sources=frozenset(e.entity_code for e in book.entities if e.role != "region"),
        accounts=accounts,
    )


def _check_sample_label(book: _BookFile, entry: _AccountEntry) -> None:
    # A sample number must never pass for a real one, nor a real one carry the sample label.
    if book.sample_account_numbers != entry.account_no.startswith(SAMPLE_PREFIX):
        rule = "must" if book.sample_account_numbers else "must not"
        raise ValueError(f"account book: {entry.account_no!r} {rule} start with {SAMPLE_PREFIX!r}")


class _DeadlinesFile(_File):
    rule_version: Annotated[str, Field(min_length=1, max_length=64)]
    appropriation_due_day: Annotated[int, Field(ge=1, le=28)] | None
    grade: Literal["A", "B", "C", "U"]
    source: str


@dataclass(frozen=True, slots=True)
class Deadlines:
    """When a budgeted month's appropriation is due (rules/deadlines.json)."""

    rule_version: str
    appropriation_due_day: int | None  # None: the last day of the month

    def appropriation_due_on(self, period: str) -> dt.date:
        year, month = int(period[:4]), int(period[5:7])
        day = self.appropriation_due_day or calendar.monthrange(year, month)[1]
        return dt.date(year, month, day)


def load_deadlines() -> Deadlines:
    text = resources.files(__package__).joinpath("rules", "deadlines.json").read_text("utf-8")
    rules = _DeadlinesFile.model_validate(json.loads(text))
    return Deadlines(rules.rule_version, rules.appropriation_due_day)
