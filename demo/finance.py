"""What finance systems and operators send in the demo: subsidy appropriations, settlements of
the notices the services issue, and the deadline checks (pure and seeded).

The feeder never reads the services' tables: notice ids are deterministic (CONTRACTS.md), so it
computes them with shared/ids.py and only waits to see them on transfer.notices before paying.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final, Literal

from demo.events import (
    APPROPRIATIONS,
    COMMANDS,
    OPS_SOURCE,
    SETTLEMENTS,
    Message,
    message,
    month_after,
    period_day,
    period_last_day,
)
from shared.cli.entities import LEAGUES_AND_CITIES, REGION
from shared.ids import (
    notice_id_for_appropriation,
    notice_id_for_request,
    remittance_id,
    topup_assessment_id,
)
from shared.money import format_yuan

if TYPE_CHECKING:
    from demo.generate import Declaration

Outcome = Literal["full", "partial", "failed", "overpaid"]
FUNDS: Final = ("institution_basic_pension", "enterprise_basic_pension")
_FUND_TAGS: Final = {"institution_basic_pension": "IBP", "enterprise_basic_pension": "EBP"}
_DOCUMENT_PREFIXES: Final = {
    "150100": "呼财社", "150200": "包财社", "150300": "乌海财社", "150400": "赤财社",
    "150500": "通财社", "150600": "鄂财社", "150700": "呼伦贝尔财社", "150800": "巴财社",
    "150900": "乌兰察布财社", "152200": "兴财社", "152500": "锡财社", "152900": "阿财社",
    "150781": "满财社", "152501": "二连财社",
}
OVERPAID_BY_FEN: Final = 100_000  # 1,000.00 yuan more than the notice asks
# The interest top-up interval [month after the period, 2020-04-01) is empty from 2020-03 on.
FIRST_PERIOD_WITHOUT_TOPUP: Final = "2020-03"


@dataclass(frozen=True, slots=True)
class SubsidyCase:
    """One appropriation and how finance will settle its notice."""

    appropriation_id: str
    fiscal_entity_code: str
    fund: str
    amount_fen: int
    due_on: dt.date
    outcome: Outcome

    def notice_id(self, attempt: int) -> str:
        return notice_id_for_appropriation(self.appropriation_id, attempt)


@dataclass(frozen=True, slots=True)
class SeenNotice:
    """A `transfer.notice.issued.v1` the feeder saw on transfer.notices."""

    notice_id: str
    amount_fen: int
    source_entity: str


@dataclass(frozen=True, slots=True)
class PredictedRequest:
    """A transfer request occupational_annuity will make once a deadline check runs."""

    kind: Literal["remittance", "topup"]
    fiscal_entity_code: str
    fee_period: str

    @property
    def request_id(self) -> str:
        if self.kind == "remittance":
            return remittance_id(self.fiscal_entity_code, self.fee_period, 0)
        return topup_assessment_id(self.fiscal_entity_code, self.fee_period, 0)

    @property
    def notice_id(self) -> str:
        return notice_id_for_request(self.request_id, 0)


def appropriations(rng: random.Random, period: str,
                   seed: int) -> tuple[list[SubsidyCase], list[Message]]:
    """Both funds for each of the 14 leagues/cities; one notice will be settled only in part,
    one will fail and be replaced, one overpaid; the rest settled in full."""
    cases: list[SubsidyCase] = []
    for entity in LEAGUES_AND_CITIES:
        for fund in FUNDS:
            thousands = (rng.randint(5_000, 80_000) if fund == "enterprise_basic_pension"
                         else rng.randint(1_000, 30_000))
            cases.append(SubsidyCase(f"A-{entity}-{period}-{_FUND_TAGS[fund]}-{seed}", entity,
                                     fund, thousands * 1_000 * 100, period_last_day(period),
                                     "full"))
    outcomes: tuple[Outcome, ...] = ("partial", "failed", "overpaid")
    for index, outcome in zip(rng.sample(range(len(cases)), 3), outcomes, strict=True):
        cases[index] = replace(cases[index], outcome=outcome)
    messages = [_appropriation_message(rng, case, period, seed) for case in cases]
    return cases, messages


def _appropriation_message(rng: random.Random, case: SubsidyCase, period: str,
                           seed: int) -> Message:
    data = {"appropriation_id": case.appropriation_id,
            "fiscal_entity_code": case.fiscal_entity_code, "fund": case.fund, "period": period,
            "amount_due": format_yuan(case.amount_fen), "due_on": case.due_on.isoformat(),
            "document_no": f"{_DOCUMENT_PREFIXES[case.fiscal_entity_code]}〔{period[:4]}〕"
                           f"{rng.randint(1, 99)}号"}
    return message(APPROPRIATIONS, case.fiscal_entity_code, "finance.subsidy.appropriated.v1",
                   f"/finance/{case.fiscal_entity_code}", data, "appropriated", seed,
                   case.appropriation_id)


def settled_message(entity: str, notice_id: str, amount_fen: int, value_date: dt.date,
                    seed: int) -> Message:
    settlement_id = f"S-{notice_id}"
    data = {"settlement_id": settlement_id, "notice_id": notice_id,
            "amount_settled": format_yuan(amount_fen), "value_date": value_date.isoformat(),
            "bank_reference": f"BR{notice_id.replace('-', '')[:16].upper()}"}
    return message(SETTLEMENTS, entity, "finance.transfer.settled.v1", f"/finance/{entity}",
                   data, "settled", seed, settlement_id)


def failed_message(entity: str, notice_id: str, failed_on: dt.date, seed: int) -> Message:
    settlement_id = f"F-{notice_id}"
    data = {"settlement_id": settlement_id, "notice_id": notice_id,
            "reason": "收款账户状态异常，银行退回", "failed_on": failed_on.isoformat()}
    return message(SETTLEMENTS, entity, "finance.transfer.failed.v1", f"/finance/{entity}",
                   data, "failed", seed, settlement_id)


def subsidy_settlements(cases: Sequence[SubsidyCase], seen: Mapping[str, SeenNotice],
                        seed: int) -> list[Message]:
    """Settle (or fail) the first notice of each case that has been issued."""
    messages = []
    for case in cases:
        notice = seen.get(case.notice_id(0))
        if notice is None:
            continue
        entity, value_date = case.fiscal_entity_code, case.due_on - dt.timedelta(days=3)
        if case.outcome == "failed":
            messages.append(failed_message(entity, notice.notice_id,
                                           case.due_on - dt.timedelta(days=4), seed))
            continue
        amount_fen = {"full": notice.amount_fen, "partial": notice.amount_fen // 2,
                      "overpaid": notice.amount_fen + OVERPAID_BY_FEN}[case.outcome]
        messages.append(settled_message(entity, notice.notice_id, amount_fen, value_date, seed))
    return messages


def replacement_settlements(cases: Sequence[SubsidyCase], seen: Mapping[str, SeenNotice],
                            seed: int) -> list[Message]:
    """The failed notice's replacement (attempt 1), settled in full before the due date."""
    return [
        settled_message(case.fiscal_entity_code, notice.notice_id, notice.amount_fen,
                        case.due_on - dt.timedelta(days=1), seed)
        for case in cases if case.outcome == "failed"
        and (notice := seen.get(case.notice_id(1))) is not None
    ]


def predict_requests(declarations: Iterable[Declaration]) -> list[PredictedRequest]:
    """Remittances for every (entity, period) with credited money (never the region itself),
    interest top-up funding for every credited period before the investment start."""
    credited = sorted({(d.fiscal_entity_code, d.fee_period) for d in declarations
                       if d.credited and d.funded_fen > 0})
    remittances = [PredictedRequest("remittance", entity, period)
                   for entity, period in credited if entity != REGION]
    topups = [PredictedRequest("topup", entity, period)
              for entity, period in credited if period < FIRST_PERIOD_WITHOUT_TOPUP]
    return remittances + topups


def request_settlements(requests: Iterable[PredictedRequest], seen: Mapping[str, SeenNotice],
                        value_date: dt.date, seed: int) -> list[Message]:
    return [
        settled_message(r.fiscal_entity_code, notice.notice_id, notice.amount_fen, value_date,
                        seed)
        for r in requests if (notice := seen.get(r.notice_id)) is not None
    ]


def check_dates(period: str) -> tuple[dt.date, dt.date]:
    """After the contribution (20th) and subsidy (month end) due dates; the first on the 6th of
    the next month, once remittances may be requested (the 5th), the second after their due
    date (the 15th)."""
    following = month_after(period)
    return period_day(following, 6), period_day(following, 16)


def deadline_checks(period: str, seed: int) -> list[Message]:
    return [
        message(COMMANDS, "all", "ops.deadline_check.requested.v1", OPS_SOURCE,
                {"command_id": f"demo-{seed}-check-{as_of.isoformat()}",
                 "as_of": as_of.isoformat()}, "check", seed, as_of.isoformat())
        for as_of in check_dates(period)
    ]


def request_value_date(period: str) -> dt.date:
    """Finance pays the annuity notices on the 10th: remittances of the period on time."""
    return period_day(month_after(period), 10)
