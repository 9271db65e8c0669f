"""What personnel systems and operators send in the demo after the month's checks (pure, seeded):
the notional interest of the backlog's years, retirements (做实), back-credits (补记), one
funding command, and a few events the annuity service must reject.

The feeder never reads the services' tables: the funding and back-credit request ids are
deterministic (CONTRACTS.md), so it predicts the notices those events cause and pays them: one
funding notice in part, then it fails and its replacement is paid the rest.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from demo.events import COMMANDS, OPS_SOURCE, Message, message
from shared.cli.entities import FISCAL_ENTITIES
from shared.ids import backcredit_request_id, notice_id_for_request, notional_funding_id
from shared.money import format_yuan

if TYPE_CHECKING:
    from demo.generate import Declaration, Employer

HR_EVENTS: Final = "hr.annuity.events"
NOTIONAL_YEARS: Final = tuple(range(2019, 2025))  # the backlog's money earns from 2019 on
RETIRED_ON: Final = dt.date(2025, 4, 20)
RECORDED_ON: Final = dt.date(2025, 4, 18)
FUNDING_AS_OF: Final = dt.date(2025, 4, 25)
RETIREMENTS_MAX: Final = 5
BACKCREDITS_MAX: Final = 3
PaymentKind = Literal["funding", "backcredit"]


@dataclass(frozen=True, slots=True)
class PredictedPayment:
    """A funding or back-credit request the annuity service will make, and how finance pays
    it: in full, or (`partly_then_failed`) a third, then a failure, then the rest."""

    kind: PaymentKind
    fiscal_entity_code: str
    request_id: str
    partly_then_failed: bool = False

    def notice_id(self, attempt: int = 0) -> str:
        return notice_id_for_request(self.request_id, attempt)


@dataclass(frozen=True, slots=True)
class Personnel:
    notional_commands: tuple[Message, ...]
    events: tuple[Message, ...]  # retirements, back-credits, the funding command; some invalid
    predicted: tuple[PredictedPayment, ...]
    retirements: int
    backcredits: int
    rejected: int


@dataclass(frozen=True, slots=True)
class _Member:
    person_id: str
    employer: Employer
    notional: bool


def personnel(rng: random.Random, employers: Sequence[Employer],
              declarations: Sequence[Declaration], seed: int) -> Personnel:
    members = _credited_members(employers, declarations)
    if not members:  # a month too small to have annuity members: interest commands only
        return Personnel(tuple(_notional_commands(seed)), (), (), 0, 0, 0)
    retiring = _one_per_entity([m for m in members if m.notional])[:RETIREMENTS_MAX]
    retired_ids = {m.person_id for m in retiring}
    backcredited = _one_per_entity([m for m in members if m.person_id not in retired_ids],
                                   reverse=True)[:BACKCREDITS_MAX]
    events = [_retired(m, seed, n) for n, m in enumerate(retiring)]
    predicted = [PredictedPayment("funding", m.employer.fiscal_entity_code,
                                  notional_funding_id(m.employer.fiscal_entity_code,
                                                      "retirement", _retirement_id(seed, n)),
                                  partly_then_failed=n == 0)
                 for n, m in enumerate(retiring)]
    for n, member in enumerate(backcredited):
        amount_fen = rng.randint(5_000, 30_000) * 100
        events.append(_backcredited(member, seed, n, amount_fen))
        predicted.append(PredictedPayment(
            "backcredit", member.employer.fiscal_entity_code,
            backcredit_request_id(member.employer.fiscal_entity_code, _backcredit_id(seed, n))))
    command, funded = _funding_command(members, retired_ids, seed)
    events += [*_invalid(members, seed), *command]
    predicted += funded
    return Personnel(tuple(_notional_commands(seed)), tuple(events), tuple(predicted),
                     len(retiring), len(backcredited), 2)


def _credited_members(employers: Sequence[Employer],
                      declarations: Sequence[Declaration]) -> list[_Member]:
    """Members with a credited annuity declaration, in the generator's order, once each."""
    by_uscc = {e.uscc: e for e in employers}
    seen: dict[tuple[str, str], _Member] = {}
    for declaration in declarations:
        if not declaration.credited:
            continue
        employer = by_uscc[declaration.data["employer_uscc"]]
        for line in declaration.data["lines"]:
            key = (line["person_id"], employer.fiscal_entity_code)
            seen.setdefault(key, _Member(line["person_id"], employer,
                                         employer.unit_funding == "treasury_full"))
    return list(seen.values())


def _one_per_entity(members: Sequence[_Member], reverse: bool = False) -> list[_Member]:
    chosen: dict[str, _Member] = {}
    for member in reversed(members) if reverse else members:
        chosen.setdefault(member.employer.fiscal_entity_code, member)
    return [chosen[e] for e in FISCAL_ENTITIES if e in chosen]


def _retirement_id(seed: int, n: int) -> str:
    return f"R-{seed}-{n:03d}"


def _backcredit_id(seed: int, n: int) -> str:
    return f"B-{seed}-{n:03d}"


def _retired(member: _Member, seed: int, n: int, *, entity: str | None = None,
             retirement_id: str | None = None) -> Message:
    entity = entity or member.employer.fiscal_entity_code
    data = {"retirement_id": retirement_id or _retirement_id(seed, n),
            "person_id": member.person_id, "employer_uscc": member.employer.uscc,
            "fiscal_entity_code": entity, "retired_on": RETIRED_ON.isoformat()}
    return message(HR_EVENTS, entity, "hr.member.retired.v1", f"/hr/{entity}", data, "retired",
                   seed, data["retirement_id"])


def _backcredited(member: _Member, seed: int, n: int, amount_fen: int,
                  backcredit_id: str | None = None) -> Message:
    entity = member.employer.fiscal_entity_code
    data = {"backcredit_id": backcredit_id or _backcredit_id(seed, n),
            "person_id": member.person_id, "employer_uscc": member.employer.uscc,
            "fiscal_entity_code": entity, "amount": format_yuan(amount_fen),
            "recorded_on": RECORDED_ON.isoformat(),
            "reason_text": "机关事业单位养老保险制度改革前视同缴费年限补记",
            "document_no": f"人社补〔{RECORDED_ON.year}〕{n + 1}号"}
    return message(HR_EVENTS, entity, "hr.annuity.backcredit.v1", f"/hr/{entity}", data,
                   "backcredit", seed, data["backcredit_id"])


def _invalid(members: Sequence[_Member], seed: int) -> list[Message]:
    """A retirement at an entity where the person was never credited (MEMBER_UNKNOWN), and a
    back-credit of 0.00 (AMOUNT_INVALID)."""
    member = members[0]
    elsewhere = next(e for e in FISCAL_ENTITIES if e != member.employer.fiscal_entity_code)
    return [_retired(member, seed, 0, entity=elsewhere, retirement_id=f"R-{seed}-ELSEWHERE"),
            _backcredited(member, seed, 0, 0, backcredit_id=f"B-{seed}-ZERO")]


def _funding_command(members: Sequence[_Member], retired: set[str],
                     seed: int) -> tuple[list[Message], list[PredictedPayment]]:
    """做实 by command for the entity with the most notional members left after retirements."""
    left: dict[str, int] = {}
    for member in members:
        if member.notional and member.person_id not in retired:
            left[member.employer.fiscal_entity_code] = left.get(
                member.employer.fiscal_entity_code, 0) + 1
    if not left:
        return [], []
    entity = max(sorted(left), key=lambda e: left[e])
    command_id = f"demo-{seed}-funding-{entity}"
    data = {"command_id": command_id, "fiscal_entity_code": entity,
            "as_of": FUNDING_AS_OF.isoformat()}
    command = message(COMMANDS, "occupational_annuity", "ops.annuity_funding.requested.v1",
                      OPS_SOURCE, data, "funding", seed, entity)
    return [command], [PredictedPayment("funding", entity,
                                        notional_funding_id(entity, "command", command_id))]


def _notional_commands(seed: int) -> list[Message]:
    """The notional interest of each year the backlog's money earns in, in order of years."""
    return [message(COMMANDS, "occupational_annuity", "ops.notional_interest.requested.v1",
                    OPS_SOURCE, {"command_id": f"demo-{seed}-interest-{year}", "year": year},
                    "interest", seed, year)
            for year in NOTIONAL_YEARS]
