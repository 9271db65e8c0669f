"""A realistic month of declarations and payments for all 14 fiscal entities (pure and seeded).

`generate_month(FeedConfig(...))` returns everything the feeder publishes, in publishing order,
plus what it needs later (subsidy cases, the annuity requests it can predict). Same seed, same
month: the generator reads no clock and keeps one `random.Random`.

Figures follow DOMAIN.md: bases within the year's floor and cap, amounts = base x rate rounded
half-up per person and side (shared/money.py), the 20th of the fee period as due date. A chosen
few per cent of the declarations carry exactly one known defect each (`Declaration.defect`).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from demo import finance, oversight
from demo.events import DECLARATIONS, PAYMENTS, TAX_SOURCE, Message, message, period_day
from demo.identities import (
    USCC_KIND_ENTERPRISE,
    USCC_KIND_INSTITUTION,
    corrupt_uscc_check,
    employer_name,
    make_resident_id,
    make_uscc,
    person_name,
)
from demo.personnel import Personnel, personnel
from shared.cli.entities import FISCAL_ENTITIES, REGION
from shared.money import amount_for_rate, format_yuan, parse_yuan

Scheme = Literal["enterprise_basic", "institution_basic", "occupational_annuity"]
Behaviour = Literal["on_time", "late", "underpaid", "split", "unpaid", "replaced"]

RATES_BPS: Final[dict[str, tuple[int, int]]] = {  # (employer, employee), DOMAIN.md
    "enterprise_basic": (1600, 800),
    "institution_basic": (1600, 800),
    "occupational_annuity": (800, 400),
}
# Base floor and cap in fen: 2025 is Inner Mongolia's (grade C); 2014-2024 are the labelled
# sample rule set of DOMAIN.md, which the services load only with RULE_SET=local.
BASE_BOUNDS_FEN: Final[dict[int, tuple[int, int]]] = {
    2025: (490_700, 2_453_700),
    **dict.fromkeys(range(2014, 2025), (300_000, 2_000_000)),
}
DUE_DAY: Final = 20
LATE_DAYS_MAX: Final = 14
BACKLOG_PERIODS: Final = ("2018-06", "2018-12", "2019-06", "2019-11")
BACKLOG_EMPLOYERS_MAX: Final = 8
BACKLOG_LINES_MAX: Final = 6
LINES_MAX: Final = 5_000
DEFECTS: Final = ("bad_uscc_check", "base_out_of_range", "amount_mismatch", "duplicate_person")

# A few real district codes under each fiscal entity (GB/T 2260); 150000, 150781 and 152501 are
# their own fiscal entities.
REGION_CODES: Final[dict[str, tuple[str, ...]]] = {
    "150100": ("150102", "150103", "150104", "150105", "150121"),
    "150200": ("150202", "150203", "150204", "150207"),
    "150300": ("150302", "150303", "150304"),
    "150400": ("150402", "150403", "150404", "150421"),
    "150500": ("150502", "150521", "150525"),
    "150600": ("150602", "150603", "150621", "150627"),
    "150700": ("150702", "150703", "150782", "150783"),
    "150800": ("150802", "150821", "150822"),
    "150900": ("150902", "150921", "150981"),
    "152200": ("152201", "152202", "152221"),
    "152500": ("152502", "152522", "152527"),
    "152900": ("152921", "152922"),
    "150781": ("150781",),
    "152501": ("152501",),
    REGION: ("150000",),
}
# Rough relative sizes of the employer populations (for a believable spread, not statistics).
ENTITY_WEIGHTS: Final[dict[str, int]] = {
    "150100": 16, "150200": 14, "150300": 4, "150400": 12, "150500": 8, "150600": 12,
    "150700": 7, "150800": 5, "150900": 5, "152200": 4, "152500": 4, "152900": 2,
    "150781": 2, "152501": 1, REGION: 4,
}


@dataclass(frozen=True, slots=True)
class FeedConfig:
    employers: int = 3000
    lines_per_employer: int = 8
    seed: int = 20250301
    period: str = "2025-03"
    invalid_percent: int = 3

    def __post_init__(self) -> None:
        if not 20 <= self.employers <= 1_000_000:
            raise ValueError("employers must be 20..1000000 (every entity needs some)")
        if not 1 <= self.lines_per_employer <= 1_000:
            raise ValueError("lines per employer must be 1..1000")
        if not 0 <= self.invalid_percent <= 50:
            raise ValueError("invalid percent must be 0..50")
        if not 0 <= self.seed <= 999_999_999:
            raise ValueError("seed must be 0..999999999")
        if int(self.period[:4]) not in BASE_BOUNDS_FEN:
            raise ValueError(f"no base floor/cap for {self.period[:4]}: use 2014..2025")


@dataclass(frozen=True, slots=True)
class Person:
    person_id: str
    name: str
    base_fen: int


@dataclass(frozen=True, slots=True)
class Employer:
    number: int
    uscc: str
    name: str
    region_code: str
    fiscal_entity_code: str
    institution: bool
    unit_funding: Literal["self", "treasury_full"]
    persons: tuple[Person, ...]


@dataclass(frozen=True, slots=True)
class Declaration:
    """One published revision: wire `data`, and what the generator knows about it."""

    data: dict[str, Any]
    fiscal_entity_code: str
    defect: str | None
    amount_due_fen: int
    funded_fen: int  # annuity money credited as real (individual, and unit when self-funded)
    behaviour: Behaviour

    @property
    def declaration_id(self) -> str:
        return str(self.data["declaration_id"])

    @property
    def fee_period(self) -> str:
        return str(self.data["fee_period"])

    @property
    def scheme(self) -> str:
        return str(self.data["scheme"])

    @property
    def credited(self) -> bool:
        """Paid in full, so occupational_annuity credits it (valid annuity declarations only)."""
        return (self.scheme == "occupational_annuity" and self.defect is None
                and self.behaviour in ("on_time", "late", "split"))


@dataclass(frozen=True, slots=True)
class DemoMonth:
    config: FeedConfig
    employers: tuple[Employer, ...]
    declarations: tuple[Declaration, ...]  # every published revision, current period and backlog
    early: tuple[Message, ...]  # a payment published before its declaration
    declaration_messages: tuple[Message, ...]
    payment_messages: tuple[Message, ...]
    held: tuple[Message, ...]  # the revised declaration's payment: only after revision 1 is in
    appropriation_messages: tuple[Message, ...]
    subsidy_cases: tuple[finance.SubsidyCase, ...]
    predicted_requests: tuple[finance.PredictedRequest, ...]
    deadline_checks: tuple[Message, ...]
    personnel: Personnel  # after the checks: interest, retirements, back-credits, a command
    budget_messages: tuple[Message, ...]  # before the appropriations
    filing_messages: tuple[Message, ...]  # enterprise annuity, with the declarations
    assessment: Message  # after the deadline checks
    oversight: oversight.Oversight

    @property
    def line_count(self) -> int:
        return sum(len(d.data["lines"]) for d in self.declarations)


# ---- employers and people ----------------------------------------------------------------------


def draw_line_count(rng: random.Random, mean: int) -> int:
    """Geometric with the given mean (1 at least): many small employers, a few large ones."""
    count = 1
    while count < LINES_MAX and rng.randrange(mean) != 0:
        count += 1
    return count


def draw_base_fen(rng: random.Random, year: int) -> int:
    floor_fen, cap_fen = BASE_BOUNDS_FEN[year]
    roll = rng.randrange(100)
    if roll < 15:
        return floor_fen  # many are declared at the floor
    if roll < 18:
        return cap_fen
    upper_yuan = min(cap_fen, floor_fen * 3) // 100
    return rng.randrange(floor_fen // 100 + 1, upper_yuan) * 100  # whole yuan, inside bounds


def make_employers(rng: random.Random, config: FeedConfig, issued: set[str]) -> list[Employer]:
    entities = list(FISCAL_ENTITIES)
    weights = [ENTITY_WEIGHTS[e] for e in entities]
    year = int(config.period[:4])
    employers = []
    for number in range(1, config.employers + 1):
        # The first 15 cover every entity once; the rest follow the weights.
        entity = entities[number - 1] if number <= len(entities) else rng.choices(
            entities, weights)[0]
        institution = entity == REGION or rng.randrange(100) < 15
        region_code = rng.choice(REGION_CODES[entity])
        kind = USCC_KIND_INSTITUTION if institution else USCC_KIND_ENTERPRISE
        persons = tuple(
            Person(_unique_person_id(rng, region_code, issued), person_name(rng),
                   draw_base_fen(rng, year))
            for _ in range(draw_line_count(rng, config.lines_per_employer))
        )
        employers.append(Employer(
            number, _unique_uscc(rng, kind, region_code, issued),
            employer_name(rng, FISCAL_ENTITIES[entity], institution, number), region_code,
            entity, institution, "treasury_full" if rng.randrange(100) < 40 else "self", persons,
        ))
    return employers


def _unique_person_id(rng: random.Random, region_code: str, issued: set[str]) -> str:
    while True:
        person_id = make_resident_id(rng, region_code)
        if person_id not in issued:
            issued.add(person_id)
            return person_id


def _unique_uscc(rng: random.Random, kind: str, region_code: str, issued: set[str]) -> str:
    while True:
        uscc = make_uscc(rng, kind, region_code)
        if uscc not in issued:
            issued.add(uscc)
            return uscc


# ---- declarations ------------------------------------------------------------------------------


def build_lines(persons: Sequence[Person], scheme: str) -> list[dict[str, Any]]:
    employer_bps, employee_bps = RATES_BPS[scheme]
    return [
        {"line_no": number, "person_id": p.person_id, "person_name": p.name,
         "base": format_yuan(p.base_fen),
         "employer_amount": format_yuan(amount_for_rate(p.base_fen, employer_bps)),
         "employee_amount": format_yuan(amount_for_rate(p.base_fen, employee_bps))}
        for number, p in enumerate(persons, start=1)
    ]


def declaration_data(employer: Employer, scheme: str, declaration_id: str, *, period: str,
                     declared_on: dt.date, persons: Sequence[Person]) -> dict[str, Any]:
    annuity = scheme == "occupational_annuity"
    return {
        "declaration_id": declaration_id, "revision": 0,
        "employer_uscc": employer.uscc, "employer_name": employer.name,
        "region_code": employer.region_code, "scheme": scheme, "fee_period": period,
        "unit_funding": employer.unit_funding if annuity else None,
        "declared_on": declared_on.isoformat(), "lines": build_lines(persons, scheme),
    }


def amounts_fen(data: dict[str, Any]) -> tuple[int, int]:
    """(amount due, annuity money funded) of a valid declaration's data."""
    employer_fen = sum(parse_yuan(line["employer_amount"]) for line in data["lines"])
    employee_fen = sum(parse_yuan(line["employee_amount"]) for line in data["lines"])
    notional = data["scheme"] == "occupational_annuity" and data["unit_funding"] == "treasury_full"
    due = employee_fen if notional else employer_fen + employee_fen
    funded = due if data["scheme"] == "occupational_annuity" else 0
    return due, funded


def as_declaration(data: dict[str, Any], behaviour: Behaviour,
                   defect: str | None = None) -> Declaration:
    entity = next(e for e, codes in REGION_CODES.items() if data["region_code"] in codes)
    due, funded = amounts_fen(data) if defect is None else (0, 0)
    return Declaration(data, entity, defect, due, funded, behaviour)


def current_declarations(rng: random.Random, employers: Sequence[Employer],
                         config: FeedConfig) -> list[Declaration]:
    """Institutions declare their basic pension and their occupational annuity; enterprises
    their basic pension."""
    declarations: list[Declaration] = []
    for employer in employers:
        schemes = (("institution_basic", "occupational_annuity") if employer.institution
                   else ("enterprise_basic",))
        declared_on = period_day(config.period, rng.randint(1, 15))
        for scheme in schemes:
            number = len(declarations) + 1
            declaration_id = (f"D-{employer.fiscal_entity_code}-{config.period}-{config.seed}-"
                              f"{number:06d}")
            data = declaration_data(employer, scheme, declaration_id, period=config.period,
                                    declared_on=declared_on, persons=employer.persons)
            declarations.append(as_declaration(data, draw_behaviour(rng)))
    return declarations


def draw_behaviour(rng: random.Random) -> Behaviour:
    roll = rng.randrange(100)
    if roll < 85:
        return "on_time"
    if roll < 92:
        return "late"
    if roll < 95:
        return "underpaid"
    return "split"


def with_defect(rng: random.Random, declaration: Declaration, defect: str,
                year: int) -> Declaration:
    """The same declaration with exactly one defect (and no payment: nobody pays for it)."""
    data = {**declaration.data, "lines": [dict(line) for line in declaration.data["lines"]]}
    lines = data["lines"]
    if defect == "bad_uscc_check":
        data["employer_uscc"] = corrupt_uscc_check(rng, data["employer_uscc"])
    elif defect == "base_out_of_range":
        floor_fen, cap_fen = BASE_BOUNDS_FEN[year]
        base = (floor_fen - rng.randint(1, floor_fen // 200) * 100 if rng.randrange(2)
                else cap_fen + rng.randint(1, 5_000) * 100)
        # Amounts follow the wrong base, so the base is the only thing wrong with the line.
        rebase(lines[0], base, data["scheme"])
    elif defect == "amount_mismatch":
        lines[0]["employer_amount"] = format_yuan(parse_yuan(lines[0]["employer_amount"]) + 1)
    elif defect == "duplicate_person":
        if len(lines) == 1:
            lines.append({**lines[0], "line_no": 2})
        else:
            lines[1]["person_id"] = lines[0]["person_id"]
    else:
        raise ValueError(f"unknown defect {defect}")
    return replace(declaration, data=data, defect=defect, amount_due_fen=0, funded_fen=0,
                   behaviour="unpaid")


def choose_invalid(rng: random.Random, candidates: Sequence[int], percent: int,
                   total: int) -> dict[int, str]:
    """Index -> defect for round(total x percent / 100) candidates; the defects take turns."""
    count = min(len(candidates), (total * percent + 50) // 100)
    chosen = sorted(rng.sample(list(candidates), count))
    return {index: DEFECTS[n % len(DEFECTS)] for n, index in enumerate(chosen)}


def revised(rng: random.Random, declaration: Declaration, year: int) -> Declaration:
    """Revision 0 as first declared: one person's base 500.00 too high (still valid)."""
    _, cap_fen = BASE_BOUNDS_FEN[year]
    data = {**declaration.data, "lines": [dict(line) for line in declaration.data["lines"]]}
    line = data["lines"][rng.randrange(len(data["lines"]))]
    base = parse_yuan(line["base"]) + 50_000
    if base > cap_fen:
        base -= 100_000  # 500.00 below instead: the cap is far above the floor
    rebase(line, base, data["scheme"])
    return as_declaration(data, "replaced")


def rebase(line: dict[str, Any], base_fen: int, scheme: str) -> None:
    """The line's base and the amounts that follow from it."""
    employer_bps, employee_bps = RATES_BPS[scheme]
    line.update(base=format_yuan(base_fen),
                employer_amount=format_yuan(amount_for_rate(base_fen, employer_bps)),
                employee_amount=format_yuan(amount_for_rate(base_fen, employee_bps)))


def shift_annuity_base(rng: random.Random, current: list[Declaration], year: int) -> str:
    """One valid annuity declaration paid on time, whose employer's basic pension declaration
    is valid too, declares its first line's base 100.00 above the basic pension's (below at the
    cap): a finding of collection, not a rejection. Returns its declaration id."""
    valid_basic = {d.data["employer_uscc"] for d in current
                   if d.scheme == "institution_basic" and d.defect is None}
    index = rng.choice([i for i, d in enumerate(current)
                        if d.scheme == "occupational_annuity" and d.defect is None
                        and d.behaviour == "on_time" and d.data["employer_uscc"] in valid_basic])
    declaration = current[index]
    data = {**declaration.data, "lines": [dict(line) for line in declaration.data["lines"]]}
    base = parse_yuan(data["lines"][0]["base"]) + oversight.BASE_SHIFT_FEN
    if base > BASE_BOUNDS_FEN[year][1]:
        base -= 2 * oversight.BASE_SHIFT_FEN
    rebase(data["lines"][0], base, data["scheme"])
    current[index] = as_declaration(data, declaration.behaviour)
    return declaration.declaration_id


def backlog_declarations(rng: random.Random, employers: Sequence[Employer],
                         config: FeedConfig) -> list[Declaration]:
    """Occupational annuity of 2018-2019, before investment started: it earns interest top-ups.
    Bases use the sample rule set (3,000.00..20,000.00); all paid on time."""
    institutions = [e for e in employers if e.institution]
    by_entity: dict[str, Employer] = {}
    for employer in institutions:  # one per entity first, so several entities get top-ups
        by_entity.setdefault(employer.fiscal_entity_code, employer)
    chosen = list(by_entity.values())[:BACKLOG_EMPLOYERS_MAX]
    declarations: list[Declaration] = []
    for employer in chosen:
        for period in BACKLOG_PERIODS:
            persons = [replace(p, base_fen=draw_base_fen(rng, int(period[:4])))
                       for p in employer.persons[:BACKLOG_LINES_MAX]]
            declaration_id = (f"D-{employer.fiscal_entity_code}-{period}-{config.seed}-"
                              f"B{employer.number:05d}")
            data = declaration_data(employer, "occupational_annuity", declaration_id,
                                    period=period, declared_on=period_day(period, 10),
                                    persons=persons)
            declarations.append(as_declaration(data, "on_time"))
    return declarations


# ---- payments ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _PaymentNumbers:
    seed: int
    period: str
    next_number: int = 1

    def take(self) -> tuple[str, str]:
        number = self.next_number
        self.next_number += 1
        voucher = f"3151500{self.period[:4]}{number % 10_000_000:07d}"  # 18 digits
        return f"P-{self.period}-{self.seed}-{number:06d}", voucher


def payments_for(rng: random.Random, declaration: Declaration,
                 numbers: _PaymentNumbers) -> list[Message]:
    """The payments a declaration's behaviour calls for; none for an invalid one."""
    due_fen = declaration.amount_due_fen
    declared_on = dt.date.fromisoformat(declaration.data["declared_on"])
    due_on = period_day(declaration.fee_period, DUE_DAY)
    on_time = declared_on + dt.timedelta(days=rng.randint(0, max((due_on - declared_on).days, 0)))
    late = due_on + dt.timedelta(days=rng.randint(1, LATE_DAYS_MAX))
    plan: list[tuple[int, dt.date]] = {
        "on_time": [(due_fen, on_time)],
        "late": [(due_fen, late)],
        "underpaid": [(due_fen - max(1, due_fen * rng.randint(1, 30) // 100), on_time)],
        "split": [(due_fen // 2, on_time), (due_fen - due_fen // 2, rng.choice((on_time, late)))],
        "unpaid": [],
        "replaced": [],
    }[declaration.behaviour]
    messages = []
    for amount_fen, paid_on in plan:
        payment_id, voucher = numbers.take()
        data = {"payment_id": payment_id, "declaration_id": declaration.declaration_id,
                "e_tax_voucher_no": voucher, "amount_paid": format_yuan(amount_fen),
                "paid_on": paid_on.isoformat()}
        messages.append(message(PAYMENTS, declaration.data["employer_uscc"],
                                "tax.contribution.paid.v1", TAX_SOURCE, data, "paid",
                                numbers.seed, payment_id))
    return messages


def declared_message(declaration: Declaration, seed: int) -> Message:
    data = declaration.data
    return message(DECLARATIONS, data["employer_uscc"], "tax.contribution.declared.v1",
                   TAX_SOURCE, data, "declared", seed, data["declaration_id"], data["revision"])


# ---- the month -------------------------------------------------------------------------------


def generate_month(config: FeedConfig) -> DemoMonth:
    rng = random.Random(config.seed)  # noqa: S311  # made-up demo data, not secrets
    year = int(config.period[:4])
    employers = make_employers(rng, config, set())
    current = current_declarations(rng, employers, config)
    # Two special cases among valid, fully paid enterprise declarations of two lines or more.
    specials = [i for i, d in enumerate(current)
                if d.scheme == "enterprise_basic" and len(d.data["lines"]) >= 2]
    early_index, revised_index = rng.sample(specials, 2)
    candidates = [i for i in range(len(current)) if i not in (early_index, revised_index)]
    for index, defect in choose_invalid(rng, candidates, config.invalid_percent,
                                        len(current)).items():
        current[index] = with_defect(rng, current[index], defect, year)
    current[early_index] = replace(current[early_index], behaviour="on_time")
    final = replace(current[revised_index], behaviour="on_time",
                    data={**current[revised_index].data, "revision": 1})
    current[revised_index] = final
    first = revised(rng, final, year)
    first = replace(first, data={**first.data, "revision": 0})
    backlog = backlog_declarations(rng, employers, config)
    mismatch = shift_annuity_base(oversight.side_rng(config.seed, "bases"), current, year)
    return _assemble(rng, config, employers, current, backlog=backlog, first_revision=first,
                     early_index=early_index, revised_index=revised_index, mismatch=mismatch)


def _assemble(rng: random.Random, config: FeedConfig, employers: list[Employer],
              current: list[Declaration], *, backlog: list[Declaration],
              first_revision: Declaration, early_index: int, revised_index: int,
              mismatch: str) -> DemoMonth:
    special = (early_index, revised_index)
    numbers = _PaymentNumbers(config.seed, config.period)
    payments = {i: payments_for(rng, d, numbers) for i, d in enumerate(current)}
    backlog_payments = [m for d in backlog for m in payments_for(rng, d, numbers)]
    published: list[Declaration] = []
    for index, declaration in enumerate(current):
        if index == revised_index:
            published.append(first_revision)  # revision 0, then its replacement right after
        published.append(declaration)
    published.extend(backlog)
    cases, appropriations = finance.appropriations(rng, config.period, config.seed)
    missing, below = oversight.gap_entities(oversight.side_rng(config.seed, "gaps"), cases)
    budgets = oversight.budget_messages(cases, missing, below, config.period, config.seed)
    # The city with no appropriation this month: regional finance's budget still expects one.
    appropriations = [m for m in appropriations if m.key != missing]
    cases = [c for c in cases if c.fiscal_entity_code != missing]
    filings, rejected = oversight.filing_messages(employers, config.period, config.seed)
    return DemoMonth(
        config=config, employers=tuple(employers), declarations=tuple(published),
        early=tuple(payments[early_index]),
        declaration_messages=tuple(declared_message(d, config.seed) for d in published),
        payment_messages=tuple(
            [m for i, ms in payments.items() if i not in special for m in ms] + backlog_payments
        ),
        held=tuple(payments[revised_index]),
        appropriation_messages=tuple(appropriations),
        subsidy_cases=tuple(cases),
        predicted_requests=tuple(finance.predict_requests(current + backlog)),
        deadline_checks=tuple(finance.deadline_checks(config.period, config.seed)),
        personnel=personnel(rng, employers, current + backlog, config.seed),
        budget_messages=tuple(budgets), filing_messages=tuple(filings),
        assessment=oversight.assessment_command(
            config.period, finance.check_dates(config.period)[-1], config.seed),
        oversight=oversight.Oversight(missing, below, rejected, len(filings), mismatch),
    )
