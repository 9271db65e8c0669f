"""`python -m demo.feed`: publish a realistic month and walk it through its deadlines.

Steps: an early payment, the declarations (one revised before payment, one annuity line's base
not the basic pension's), enterprise annuity filings (one over its cap), the year's budgets, the
subsidy appropriations (none from one city, one below its budget), the payments; then, unless
--inbound-only, wait until the services are idle, settle the subsidy notices they issued (one
partial, one failed and its replacement, one overpaid), run deadline checks on the 6th and 16th
of the next month and settle the annuity remittance and top-up notices each check makes the
services issue, ask for the assessment (考核) of the month as of the second check; then post the
notional interest of 2019-2024, send retirements (做实), back-credits (补记), a funding command
and two events the annuity service rejects, and pay the funding and back-credit notices: one
funding notice a third, then it fails and its replacement is paid the rest; last, read the
month's report for the budget gaps, the base finding, the rejected filing and the assessment.
Progress goes to stderr, a summary to stdout. Exit 0 when everything predicted happened, 1
otherwise, 2 on a usage error.

Each record goes out as the principal that publishes it in production (shared/access.py
`writer_of`): declarations and payments as tax-bureau, appropriations and settlements as finance,
retirements and back-credits as hr, deadline checks, interest and funding commands as the operator
(the KAFKA_* environment). The partners' settings come from
`--as PRINCIPAL=FILE`, FILE holding `deploy/stack.sh client-config PRINCIPAL` lines (deploy/demo.sh
passes them through pipes, so no password reaches an argument or a file).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from demo import finance, oversight
from demo.events import CONTENT_TYPE, Message
from demo.generate import DemoMonth, FeedConfig, generate_month
from demo.personnel import PredictedPayment
from shared.access import FINANCE, OPERATOR, PRINCIPALS, writer_of
from shared.cli.common import CliEnv, CliError, UsageError, period_arg, print_json
from shared.cli.kafka import consumer, partitions_of, producer
from shared.cli.progress import Progress
from shared.cli.report import build_report
from shared.cli.status import wait_idle
from shared.clock import SHANGHAI
from shared.contracts.wire import NotJsonError, loads_strict
from shared.kafka_client import KafkaAccess
from shared.money import MoneyFormatError, parse_yuan

SEND_CHUNK: Final = 1_000
NOTICES_TOPIC: Final = "transfer.notices"
NOTICE_GRACE_S: Final = 15  # after the services went idle, notices are already published
# Finance pays the funding and back-credit notices before their due date (30 days after the
# retirement, the back-credit or the command); the failed one is replaced and paid on time.
FUNDING_PAID_ON: Final = dt.date(2025, 5, 8)
FUNDING_FAILED_ON: Final = dt.date(2025, 5, 9)
REPLACEMENT_PAID_ON: Final = dt.date(2025, 5, 12)


def note(text: str) -> None:
    print(f"feed: {text}", file=sys.stderr, flush=True)


@dataclass(slots=True)
class Publisher:
    """One idempotent producer per principal for the whole feed; chunks of sends, then wait for
    all acks. A topic whose writer has no producer here goes out as the operator (and the broker
    refuses it unless the operator may write there)."""

    producers: Mapping[str, AIOKafkaProducer]
    env: CliEnv
    counts: Counter[str] = field(default_factory=Counter)

    def producer_for(self, topic: str) -> AIOKafkaProducer:
        return self.producers.get(writer_of(topic), self.producers[OPERATOR])

    async def publish(self, messages: Sequence[Message], label: str) -> None:
        if not messages:
            return
        progress = Progress(label, len(messages))
        for start in range(0, len(messages), SEND_CHUNK):
            chunk = messages[start:start + SEND_CHUNK]
            now = dt.datetime.now(SHANGHAI).isoformat(timespec="milliseconds")
            futures = [
                await self.producer_for(m.topic).send(
                    self.env.topic(m.topic), value=m.value(now), key=m.key.encode(),
                    headers=[("content-type", CONTENT_TYPE.encode())])
                for m in chunk
            ]
            await asyncio.gather(*futures)
            progress.advance(len(chunk))
        self.counts[label] += len(messages)


class NoticeWatcher:
    """Reads transfer.notices from the beginning and remembers every issued notice."""

    def __init__(self, kafka: AIOKafkaConsumer, topic: str) -> None:
        self.kafka = kafka
        self.topic = topic
        self.seen: dict[str, finance.SeenNotice] = {}

    async def start(self) -> None:
        partitions = await partitions_of(self.kafka, self.topic)
        self.kafka.assign(partitions)
        await self.kafka.seek_to_beginning(*partitions)

    async def wait_for(self, notice_ids: set[str],
                       timeout_s: int) -> dict[str, finance.SeenNotice]:
        deadline = time.monotonic() + timeout_s
        while not notice_ids <= self.seen.keys() and time.monotonic() < deadline:
            batches = await self.kafka.getmany(timeout_ms=500, max_records=5_000)
            for records in batches.values():
                for record in records:
                    self._remember(record.value)
        return {i: self.seen[i] for i in notice_ids if i in self.seen}

    def _remember(self, value: bytes | None) -> None:
        try:
            event = loads_strict(value or b"")
            data = event["data"]
            if event.get("type") != "transfer.notice.issued.v1":
                return
            self.seen[data["notice_id"]] = finance.SeenNotice(
                data["notice_id"], parse_yuan(data["amount"]),
                str(data["source_account"]["entity_code"]))
        except (NotJsonError, MoneyFormatError, KeyError, TypeError):
            return  # not a notice this feeder can settle


@dataclass(slots=True)
class Outcome:
    missing: list[str] = field(default_factory=list)
    settled_requests: int = 0
    oversight: list[str] = field(default_factory=list)


Idle = Callable[[], Awaitable[None]]
"""Waits until the services have handled everything published so far."""


@dataclass(frozen=True, slots=True)
class Pacing:
    """How a caller other than the demo drives the feed: its own wait for idle (a fault test's
    also waits for every service to be ready and every outbox drained), its own publisher
    (one that rides through a broker outage), and whether to wait after every step, so that no
    two steps' records are ever handled interleaved (a replay compares such runs)."""

    idle: Idle | None = None
    publisher: Callable[[Mapping[str, AIOKafkaProducer], CliEnv], Publisher] = Publisher
    idle_between_steps: bool = False


async def feed(config: FeedConfig, env: CliEnv, *, inbound_only: bool, wait_s: int,
               partners: Mapping[str, KafkaAccess] | None = None,
               pacing: Pacing | None = None) -> dict[str, Any]:
    """Publish the month; `partners` are the principals to publish as besides the operator."""
    month = generate_month(config)
    outcome = Outcome()
    pacing = pacing or Pacing()
    idle = pacing.idle or (lambda: _idle(env, wait_s))
    identities = {OPERATOR: env.kafka, **(partners or {})}
    async with AsyncExitStack() as stack:
        producers = {principal: await stack.enter_async_context(producer(access, linger_ms=20))
                     for principal, access in identities.items()}
        publisher = pacing.publisher(producers, env)
        for messages, label in ((month.early, "payment before its declaration"),
                                (month.declaration_messages, "declarations"),
                                (month.filing_messages, "enterprise annuity filings"),
                                (month.budget_messages, "budgets of the year"),
                                (month.appropriation_messages, "appropriations"),
                                (month.payment_messages, "payments")):
            await publisher.publish(messages, label)
            if pacing.idle_between_steps:
                await idle()
        if inbound_only:
            await publisher.publish(month.held, "payment of the revised declaration")
        else:
            # Finance reads the notices it settles; without its settings, the operator does.
            reader = identities.get(FINANCE, env.kafka)
            await Walkthrough(month, env, publisher, outcome, idle, reader, wait_s).run()
    return summarize(month, publisher.counts, outcome, inbound_only)


async def _idle(env: CliEnv, wait_s: int) -> None:
    note("waiting until the services are idle")
    try:
        await wait_idle(env, timeout_s=wait_s, progress=note)
    except CliError as error:
        raise CliError(f"{error} (are the three services running?)") from error


@dataclass(slots=True)
class Walkthrough:
    """The part after the inbound records: settle what the services issue, run the checks."""

    month: DemoMonth
    env: CliEnv
    publisher: Publisher
    outcome: Outcome
    idle: Idle
    notice_reader: KafkaAccess
    wait_s: int  # how long reading the report may take

    async def run(self) -> None:
        await self.idle()
        # Only now: revision 1 has certainly replaced revision 0 before this payment arrives.
        await self.publisher.publish(self.month.held, "payment of the revised declaration")
        async with consumer(self.notice_reader) as kafka:
            watcher = NoticeWatcher(kafka, self.env.topic(NOTICES_TOPIC))
            await watcher.start()
            await self.settle_subsidies(watcher)
            await self.idle()
            await self.run_checks(watcher)
            await self.publisher.publish([self.month.assessment], "assessment command")
            await self.idle()
            await self.fund_and_backcredit(watcher)
        await self.read_oversight()

    async def read_oversight(self) -> None:
        """The budget gaps, the base finding, the rejected filing and the assessment, as the
        report shows them: a case the services did not report counts as missing."""
        report = await build_report(self.env, self.month.config.period, self.wait_s)
        lines, missed = oversight.outcome_lines(report, self.month.oversight)
        self.outcome.oversight += lines
        self.outcome.missing += [f"{what} (not in the report)" for what in missed]

    async def settle_subsidies(self, watcher: NoticeWatcher) -> None:
        """The services are idle when this starts, so the notices are out or never will be."""
        cases, seed = self.month.subsidy_cases, self.month.config.seed
        wanted = {case.notice_id(0) for case in cases}
        seen = await watcher.wait_for(wanted, NOTICE_GRACE_S)
        self.outcome.missing += [f"subsidy notice {i}" for i in sorted(wanted - seen.keys())]
        await self.publisher.publish(finance.subsidy_settlements(cases, seen, seed),
                                     "subsidy settlements")
        replacements = {case.notice_id(1) for case in cases if case.outcome == "failed"
                        and case.notice_id(0) in seen}
        await self.idle()
        seen = await watcher.wait_for(replacements, NOTICE_GRACE_S)
        self.outcome.missing += [f"replacement notice {i}"
                                 for i in sorted(replacements - seen.keys())]
        await self.publisher.publish(finance.replacement_settlements(cases, seen, seed),
                                     "replacement notice settled")

    async def fund_and_backcredit(self, watcher: NoticeWatcher) -> None:
        """Interest years, then the personnel events and the command; pay what they cause."""
        month, publisher = self.month, self.publisher
        await publisher.publish(month.personnel.notional_commands, "notional interest 2019-2024")
        await self.idle()
        await publisher.publish(month.personnel.events,
                                "retirements, back-credits, a funding command")
        await self.idle()
        predicted = list(month.personnel.predicted)
        seen = await watcher.wait_for({p.notice_id() for p in predicted}, NOTICE_GRACE_S)
        self.outcome.missing += [f"{p.kind} notice {p.notice_id()} ({p.fiscal_entity_code})"
                                 for p in predicted if p.notice_id() not in seen]
        await publisher.publish(_first_payments(predicted, seen, month.config.seed),
                                "funding and back-credit notices paid")
        await self.idle()
        failed = [p for p in predicted if p.partly_then_failed and p.notice_id() in seen]
        replacements = await watcher.wait_for({p.notice_id(1) for p in failed}, NOTICE_GRACE_S)
        self.outcome.missing += [f"replacement notice {p.notice_id(1)}" for p in failed
                                 if p.notice_id(1) not in replacements]
        await publisher.publish([
            finance.settled_message(p.fiscal_entity_code, n.notice_id, n.amount_fen,
                                    REPLACEMENT_PAID_ON, month.config.seed)
            for p in failed if (n := replacements.get(p.notice_id(1))) is not None],
            "replacement funding notice paid")
        await self.idle()

    async def run_checks(self, watcher: NoticeWatcher) -> None:
        """Each check may make the services issue remittance and top-up notices: pay them."""
        pending = list(self.month.predicted_requests)
        period, seed = self.month.config.period, self.month.config.seed
        for check in self.month.deadline_checks:
            as_of = dt.date.fromisoformat(check.data["as_of"])
            await self.publisher.publish([check], f"deadline check as of {as_of}")
            await self.idle()
            seen = await watcher.wait_for({r.notice_id for r in pending}, NOTICE_GRACE_S)
            value_date = max(finance.request_value_date(period), as_of)
            settlements = finance.request_settlements(pending, seen, value_date, seed)
            await self.publisher.publish(settlements, "annuity notices settled")
            self.outcome.settled_requests += len(settlements)
            pending = [r for r in pending if r.notice_id not in seen]
            await self.idle()
        self.outcome.missing += [
            f"{r.kind} notice {r.notice_id} ({r.fiscal_entity_code} {r.fee_period})"
            for r in pending
        ]


def _first_payments(predicted: Sequence[PredictedPayment],
                    seen: dict[str, finance.SeenNotice], seed: int) -> list[Message]:
    messages = []
    for payment in predicted:
        notice = seen.get(payment.notice_id())
        if notice is None:
            continue
        entity = payment.fiscal_entity_code
        if not payment.partly_then_failed:
            messages.append(finance.settled_message(entity, notice.notice_id, notice.amount_fen,
                                                    FUNDING_PAID_ON, seed))
            continue
        messages += [finance.settled_message(entity, notice.notice_id, notice.amount_fen // 3,
                                             FUNDING_PAID_ON, seed),
                     finance.failed_message(entity, notice.notice_id, FUNDING_FAILED_ON, seed)]
    return messages


def summarize(month: DemoMonth, published: Counter[str], outcome: Outcome | None,
              inbound_only: bool) -> dict[str, Any]:
    declarations = month.declarations
    defects = Counter(d.defect for d in declarations if d.defect)
    behaviours = Counter(d.behaviour for d in declarations
                         if d.defect is None and d.behaviour != "replaced")
    return {
        "config": {"employers": month.config.employers, "seed": month.config.seed,
                   "period": month.config.period,
                   "lines_per_employer": month.config.lines_per_employer,
                   "invalid_percent": month.config.invalid_percent},
        "declarations": len(declarations), "lines": month.line_count,
        "backlog_declarations": sum(1 for d in declarations
                                    if d.fee_period != month.config.period),
        "invalid": dict(sorted(defects.items())),
        "payment_behaviours": dict(sorted(behaviours.items())),
        "payments": len(month.early) + len(month.payment_messages) + len(month.held),
        "appropriations": len(month.appropriation_messages),
        "predicted_requests": len(month.predicted_requests),
        "retirements": month.personnel.retirements,
        "backcredits": month.personnel.backcredits,
        "personnel_events_rejected_on_purpose": month.personnel.rejected,
        "predicted_fundings_and_backcredits": len(month.personnel.predicted),
        "published": dict(published),
        "inbound_only": inbound_only,
        "settled_requests": outcome.settled_requests if outcome else 0,
        "budgets": len(month.budget_messages),
        "enterprise_annuity_filings": len(month.filing_messages),
        "oversight": outcome.oversight if outcome else [],
        "missing": outcome.missing if outcome else [],
    }


def example_declaration(month: DemoMonth) -> str:
    """An annuity declaration of the month paid in full by a league/city (the region itself
    remits nothing): its trace runs from the tax bureau to the remittance's transfer notice."""
    return next(d.declaration_id for d in month.declarations
                if d.credited and d.fee_period == month.config.period
                and d.fiscal_entity_code != "150000")


def print_summary(summary: dict[str, Any]) -> None:
    config = summary["config"]
    print(f"demo month {config['period']} (seed {config['seed']}): {config['employers']} "
          f"employers, {summary['declarations']} declarations "
          f"({summary['backlog_declarations']} of 2018-2019), {summary['lines']} lines")
    print("invalid on purpose: " + (", ".join(f"{k} {v}" for k, v in summary["invalid"].items())
                                    or "none"))
    print("valid declarations by payment: "
          + ", ".join(f"{k} {v}" for k, v in summary["payment_behaviours"].items()))
    print(f"occupational annuity: {summary['retirements']} retirements, "
          f"{summary['backcredits']} back-credits, "
          f"{summary['personnel_events_rejected_on_purpose']} personnel events invalid on purpose")
    for label, count in summary["published"].items():
        print(f"published {count:>6}  {label}")
    for line in summary["oversight"]:
        print(f"reported: {line}")
    if summary["missing"]:
        print(f"never issued by the services ({len(summary['missing'])}): "
              + "; ".join(summary["missing"]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo.feed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employers", type=int, default=3000)
    parser.add_argument("--lines-per-employer", type=int, default=8, help="mean (default 8)")
    parser.add_argument("--seed", type=int, default=20250301)
    parser.add_argument("--period", type=period_arg, default="2025-03")
    parser.add_argument("--invalid-percent", type=int, default=3)
    parser.add_argument("--namespace", default=None,
                        help="topic prefix '<ns>.' (default: $NAMESPACE, else none)")
    parser.add_argument("--inbound-only", action="store_true",
                        help="publish declarations, payments and appropriations, then stop")
    parser.add_argument("--wait-s", type=int, default=600,
                        help="bound of each wait for the services (default 600)")
    parser.add_argument("--as", dest="partners", action="append", default=[],
                        metavar="PRINCIPAL=FILE",
                        help="publish that principal's topics with the KEY=value settings in "
                             "FILE (deploy/stack.sh client-config PRINCIPAL); repeatable")
    parser.add_argument("--dry-run", action="store_true", help="generate and summarize only")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--example-declaration", action="store_true",
                        help="print only the id of a declaration that goes the whole way "
                             "(registered, paid, credited, remitted): one to trace")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        config = FeedConfig(args.employers, args.lines_per_employer, args.seed, args.period,
                            args.invalid_percent)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    except ValueError as error:
        parser.print_usage(sys.stderr)
        print(f"feed: error: {error}", file=sys.stderr)
        return 2
    if args.example_declaration:
        print(example_declaration(generate_month(config)))
        return 0
    try:
        environ = dict(os.environ)
        if args.namespace is not None:
            environ["NAMESPACE"] = args.namespace
        env = CliEnv.from_environ(environ)
        partners = dict(read_identity(text) for text in args.partners)
        summary = (summarize(generate_month(config), Counter(), None, True) if args.dry_run
                   else asyncio.run(feed(config, env, inbound_only=args.inbound_only,
                                         wait_s=args.wait_s, partners=partners)))
    except UsageError as error:
        print(f"feed: error: {error}", file=sys.stderr)
        return 2
    except (CliError, KafkaError, OSError, TimeoutError) as error:
        print(f"feed: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    print_json(summary) if args.json else print_summary(summary)
    if summary["missing"]:
        print(f"feed: error: {len(summary['missing'])} predicted notice(s) never appeared",
              file=sys.stderr)
        return 1
    return 0


def read_identity(argument: str) -> tuple[str, KafkaAccess]:
    """`PRINCIPAL=FILE` -> (principal, its settings from the KEY=value lines of FILE)."""
    principal, _, path = argument.partition("=")
    if principal not in PRINCIPALS or not path:
        raise UsageError(f"--as wants PRINCIPAL=FILE with one of {', '.join(PRINCIPALS)}, "
                         f"got {argument!r}")
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    values = dict(line.partition("=")[::2] for line in lines if "=" in line)
    access = KafkaAccess.from_mapping(values)
    if access.principal != principal:
        raise UsageError(f"{path} holds the settings of {access.principal!r}, not {principal!r}")
    return principal, access


if __name__ == "__main__":
    sys.exit(main())
