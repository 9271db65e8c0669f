"""`trace DECLARATION_ID`: every event about one declaration, across the topics it touches;
`trace --member PERSON_ID`: a member's money through its requests and notices (trace_member.py).

The summaries name amounts, dates and reason codes, never identity numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from shared.cli.common import CliEnv, UsageError, positive_seconds, print_json, render_table
from shared.cli.kafka import consumer, read_to_end
from shared.cli.progress import for_operator
from shared.clock import SHANGHAI
from shared.contracts.wire import NotJsonError, loads_strict
from shared.ids import mask_resident_id
from shared.messaging import Record

TRACE_TOPICS: Final = ("tax.contribution.declarations", "tax.contribution.payments",
                       "collection.declarations", "annuity.ledger")
_UNKNOWN_TIME: Final = dt.datetime.max.replace(tzinfo=dt.UTC)


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    trace = commands.add_parser(
        "trace", parents=[common],
        help="every event about one declaration, or a member's money, in time order",
        description="Read " + ", ".join(TRACE_TOPICS) + " from the beginning and list the events "
                    "whose data names the declaration, ordered by event time then offset. With "
                    "--member, follow a member's money instead: the events naming them, and the "
                    "remittances, top-ups, fundings and back-credits it travels in, with every "
                    "notice of transfer.notices covering them.",
    )
    trace.add_argument("declaration_id", metavar="DECLARATION_ID", nargs="?")
    trace.add_argument("--member", metavar="PERSON_ID",
                       help="an identity number: trace that member's money (shown masked)")
    trace.add_argument("--timeout-s", type=positive_seconds, default=300)
    trace.set_defaults(run=run_trace)


@dataclass(frozen=True, slots=True)
class Traced:
    time: dt.datetime
    time_text: str
    topic: str
    partition: int
    offset: int
    type: str
    event_id: str
    summary: str

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time_text, "topic": self.topic, "partition": self.partition,
                "offset": self.offset, "type": self.type, "id": self.event_id,
                "summary": self.summary}


def parse_time(text: object) -> dt.datetime:
    if not isinstance(text, str):
        return _UNKNOWN_TIME
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return _UNKNOWN_TIME
    return moment if moment.tzinfo else _UNKNOWN_TIME


def traced_event(base_topic: str, partition: int, offset: int, event: dict[str, Any]) -> Traced:
    moment = parse_time(event.get("time"))
    shown = (moment.astimezone(SHANGHAI).isoformat(sep=" ", timespec="milliseconds")
             if moment != _UNKNOWN_TIME else str(event.get("time")))
    data = event["data"] if isinstance(event.get("data"), dict) else {}
    event_type = str(event.get("type"))
    return Traced(moment, shown, base_topic, partition, offset, event_type, str(event.get("id")),
                  summarize(event_type, data))


def order(events: list[Traced]) -> list[Traced]:
    """By event time, then offset (then topic, for a stable order)."""
    return sorted(events, key=lambda e: (e.time, e.offset, e.topic, e.partition))


async def read_events(
    env: CliEnv, topics: Sequence[str], keep: Callable[[bytes], bool], timeout_s: int, *,
    as_json: bool = True,
) -> AsyncIterator[tuple[Record, dict[str, Any]]]:
    """The events of `topics` (base names) whose bytes `keep` accepts, parsed.

    A bytes test first: parsing every declaration of a topic to find one is slow.
    """
    async with consumer(env.kafka) as kafka:
        names = [env.topic(t) for t in topics]
        async for record in read_to_end(kafka, names, timeout_s=timeout_s,
                                        progress=for_operator("events searched", as_json)):
            if record.value is None or not keep(record.value):
                continue
            try:
                event = loads_strict(record.value)
            except NotJsonError:
                continue
            if isinstance(event, dict):
                yield record, event


async def collect(env: CliEnv, declaration_id: str, timeout_s: int, *,
                  as_json: bool = True) -> list[Traced]:
    needle = declaration_id.encode()
    found: list[Traced] = []
    async for record, event in read_events(env, TRACE_TOPICS, lambda value: needle in value,
                                           timeout_s, as_json=as_json):
        data = event.get("data")
        if isinstance(data, dict) and data.get("declaration_id") == declaration_id:
            found.append(traced_event(env.base_topic(record.topic), record.partition,
                                      record.offset, event))
    return order(found)


async def run_trace(args: argparse.Namespace, env: CliEnv) -> int:
    if (args.declaration_id is None) == (args.member is None):
        raise UsageError("give a DECLARATION_ID or --member PERSON_ID, not both")
    if args.member is not None:
        from shared.cli.trace_member import collect_member  # noqa: PLC0415  # it imports this

        events = await collect_member(env, args.member, args.timeout_s, as_json=args.json)
        subject = {"member": mask_resident_id(args.member)}
    else:
        events = await collect(env, args.declaration_id, args.timeout_s, as_json=args.json)
        subject = {"declaration_id": args.declaration_id}
    if args.json:
        print_json({**subject, "events": [e.as_json() for e in events]})
        return 0
    print(f"{next(iter(subject.values()))}: {len(events)} event(s)")
    if events:
        print(render_table(["time", "topic", "type", "id", "summary"],
                           [[e.time_text, e.topic, e.type, e.event_id, e.summary]
                            for e in events]))
    return 0


# ---- one-line summaries per event type -------------------------------------------------------


def _reasons(data: dict[str, Any]) -> str:
    reasons = data["reasons"] if isinstance(data.get("reasons"), list) else []
    parts = []
    for reason in reasons:
        if isinstance(reason, dict):
            line = f" (line {reason['line_no']})" if reason.get("line_no") is not None else ""
            parts.append(f"{reason.get('code')}{line}")
    return ", ".join(parts) or "no reasons given"


def _lines(data: dict[str, Any]) -> int:
    return _count(data, "lines")


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    return len(value) if isinstance(value, list) else 0


def _g(data: dict[str, Any], name: str) -> str:
    return str(data.get(name, "?"))


def _account(data: dict[str, Any], name: str) -> str:
    account = data.get(name)
    if not isinstance(account, dict):
        return "?"
    return f"{account.get('entity_code', '?')} {account.get('kind', '?')}"


_SUMMARIES: Final[dict[str, Callable[[dict[str, Any]], str]]] = {
    "tax.contribution.declared.v1": lambda d: (
        f"rev {_g(d, 'revision')}, {_g(d, 'scheme')} {_g(d, 'fee_period')}, "
        f"{_lines(d)} lines, declared {_g(d, 'declared_on')}"),
    "tax.contribution.paid.v1": lambda d: (
        f"payment {_g(d, 'payment_id')}: {_g(d, 'amount_paid')} paid {_g(d, 'paid_on')}"),
    "collection.declaration.registered.v1": lambda d: (
        f"rev {_g(d, 'revision')}, entity {_g(d, 'fiscal_entity_code')}, "
        f"due {_g(d, 'amount_due')} by {_g(d, 'due_on')}, {_g(d, 'line_count')} lines"),
    "collection.declaration.rejected.v1": lambda d: f"rev {_g(d, 'revision')}: {_reasons(d)}",
    "collection.contribution.settled.v1": lambda d: (
        f"payment {_g(d, 'payment_id')}: {_g(d, 'amount_paid')}, total "
        f"{_g(d, 'amount_paid_total')} of {_g(d, 'amount_due')}, {_g(d, 'status')}, "
        f"{_g(d, 'days_late')} days late, late fee {_g(d, 'late_fee_due')}"),
    "collection.payment.rejected.v1": lambda d: (
        f"payment {_g(d, 'payment_id')}: {_reasons(d)}"),
    "collection.contribution.overdue.v1": lambda d: (
        f"as of {_g(d, 'as_of')}: outstanding {_g(d, 'amount_outstanding')}, "
        f"{_g(d, 'days_late')} days, late fee {_g(d, 'late_fee_accrued')}"),
    "annuity.contribution.credited.v1": lambda d: (
        f"individual {_g(d, 'individual_real_total')}, unit real {_g(d, 'unit_real_total')}, "
        f"unit notional {_g(d, 'unit_notional_total')}, {_count(d, 'credits')} members"),
    "annuity.contribution.uncredited.v1": lambda d: (
        f"payment {_g(d, 'payment_id')}: not credited, {_g(d, 'reason')}"),
    # Where the money goes on (the console follows a declaration into these).
    "annuity.remittance.requested.v1": lambda d: (
        f"remittance of {_g(d, 'fiscal_entity_code')} {_g(d, 'fee_period')}: {_g(d, 'amount')} "
        f"requested {_g(d, 'requested_on')}, due {_g(d, 'due_on')}"),
    "annuity.remittance.completed.v1": lambda d: (
        f"remitted {_g(d, 'amount')}, value date {_g(d, 'value_date')}, "
        f"{'on time' if d.get('on_time') is True else 'late'}"),
    "annuity.remittance.overdue.v1": lambda d: (
        f"overdue as of {_g(d, 'as_of')}: {_g(d, 'amount')} due {_g(d, 'due_on')}"),
    "annuity.interest_topup.assessed.v1": lambda d: (
        f"top-up of {_g(d, 'fiscal_entity_code')} {_g(d, 'fee_period')}: {_g(d, 'total')}, "
        f"{_count(d, 'members')} members"),
    "annuity.interest_topup.allocated.v1": lambda d: (
        f"allocated {_g(d, 'amount_funded')} to {_count(d, 'allocations')} members"),
    "transfer.notice.issued.v1": lambda d: (
        f"notice {_g(d, 'notice_id')} ({_g(d, 'purpose')}, attempt {_g(d, 'attempt')}): "
        f"{_g(d, 'amount')} from {_account(d, 'source_account')} to "
        f"{_account(d, 'target_account')}, due {_g(d, 'due_on')}"),
    "transfer.notice.settled.v1": lambda d: (
        f"notice {_g(d, 'notice_id')} settled {_g(d, 'amount_settled')} of {_g(d, 'amount')}, "
        f"value date {_g(d, 'value_date')}"),
    "transfer.notice.failed.v1": lambda d: (
        f"notice {_g(d, 'notice_id')} failed ({_g(d, 'reason')}), settled "
        f"{_g(d, 'amount_settled')} of {_g(d, 'amount')}, replaced by {_g(d, 'replaced_by')}"),
    # 做实, 补记 and the requests that carry the money (`trace --member` follows these).
    "annuity.notional_interest.adjusted.v1": lambda d: (
        f"{_g(d, 'year')} interest adjusted ({_g(d, 'cause')} {_g(d, 'cause_id')}): "
        f"{_g(d, 'total')}"),
    "annuity.notional_funding.requested.v1": lambda d: (
        f"做实 {_g(d, 'cause')} {_g(d, 'cause_id')} as of {_g(d, 'as_of')}: {_g(d, 'total')} "
        f"for {_count(d, 'members')} members, due {_g(d, 'due_on')}"),
    "annuity.notional_funding.completed.v1": lambda d: (
        f"moved {_g(d, 'amount')} notional -> real on {_g(d, 'value_date')}"),
    "annuity.backcredit.requested.v1": lambda d: (
        f"补记 {_g(d, 'backcredit_id')}: {_g(d, 'amount')} due {_g(d, 'due_on')}"),
    "annuity.backcredit.completed.v1": lambda d: (
        f"credited {_g(d, 'amount')} to unit real on {_g(d, 'value_date')}"),
    "hr.member.retired.v1": lambda d: (
        f"retirement {_g(d, 'retirement_id')} at {_g(d, 'fiscal_entity_code')} on "
        f"{_g(d, 'retired_on')}"),
    "hr.annuity.backcredit.v1": lambda d: (
        f"back-credit {_g(d, 'backcredit_id')}: {_g(d, 'amount')} recorded {_g(d, 'recorded_on')}"),
    "transfer.requested.v1": lambda d: (
        f"{_g(d, 'purpose')}: {_g(d, 'amount')} from {_account(d, 'source')} to "
        f"{_account(d, 'target')}, due {_g(d, 'due_on')}"),
}


def summarize(event_type: str, data: dict[str, Any]) -> str:
    summary = _SUMMARIES.get(event_type)
    return summary(data) if summary is not None else ""
