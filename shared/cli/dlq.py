"""`dlq list | show | replay`: browse a service's dead letters and send them back where they came
from (CONTRACTS.md, "Readable or not"; shared/messaging.py `Outbox.dead_letter` writes them).

`show` prints a record's content for the operator, which is the tool's purpose; the log lines of
`replay` carry positions and topics only, never keys or values (identity numbers stay out of logs).

A replay is audited: it names the operator (the principal the tool authenticated as) and a
reason, publishes `ops.dlq_replay.performed.v1` on `ops.commands` before sending anything, marks
each replayed record with `x-replayed-from`, sends only into the topics the dead letter's
service consumes (shared/access.py; `x-original-topic` is a claim, checked against that set),
and skips letters an earlier replay already sent unless `--again` is given.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Final

from aiokafka import AIOKafkaConsumer

from shared import access
from shared.cli.commands import new_command_id, publish_command
from shared.cli.common import (
    SERVICES,
    CliEnv,
    CliError,
    UsageError,
    position_arg,
    positive_seconds,
    print_json,
    render_table,
)
from shared.cli.kafka import consumer, producer, read_one, read_to_end, send_all
from shared.cli.progress import for_operator
from shared.contracts.ops import DLQ_REPLAY_PERFORMED, DlqReplayPerformed, ReplayedLetter
from shared.contracts.registry import ENTITY_FIELDS, TOPIC_OPS_COMMANDS
from shared.contracts.wire import DeadLetter, NotJsonError, loads_strict, read_envelope
from shared.logging import get_logger
from shared.messaging import Record

DLQ_HEADERS: Final = ("x-dlq-reason", "x-original-topic", "x-original-partition",
                      "x-original-offset", "x-consumer-group", "x-failed-at")
REPLAYED_FROM: Final = "x-replayed-from"
VALUE_CHARS_SHOWN: Final = 2_000
KEY_CHARS_LISTED: Final = 40


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    dlq = commands.add_parser("dlq", help="browse and replay a service's dead letters",
                              description="Dead letters of <service>.dlq.")
    actions = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="list the dead letters")
    _service_arg(listing)
    listing.add_argument("--timeout-s", type=positive_seconds, default=120)
    listing.set_defaults(run=run_list)

    show = actions.add_parser("show", parents=[common], help="show one dead letter in full")
    _service_arg(show)
    show.add_argument("position", type=position_arg, metavar="PARTITION:OFFSET")
    show.add_argument("--full", action="store_true",
                      help=f"print the whole value (default: the first {VALUE_CHARS_SHOWN} chars)")
    show.set_defaults(run=run_show)

    replay = actions.add_parser(
        "replay", parents=[common], help="republish dead letters to their original topic",
        description="Publish ops.dlq_replay.performed.v1 (letters, targets, reason, operator) on "
                    "ops.commands, then republish each letter's original key, value and headers "
                    "(without the x-dlq headers, with x-replayed-from) to x-original-topic when "
                    "the service consumes that topic; one log line per record. Letters an "
                    "earlier replay sent are skipped unless --again.",
    )
    _service_arg(replay)
    replay.add_argument("position", type=position_arg, nargs="?", metavar="PARTITION:OFFSET")
    replay.add_argument("--all", action="store_true", help="replay every dead letter")
    replay.add_argument("--reason", type=_reason_arg, metavar="TEXT",
                        help="why (required unless --dry-run): the fix that makes them readable")
    replay.add_argument("--again", action="store_true",
                        help="also send letters that an earlier replay already sent")
    replay.add_argument("--dry-run", action="store_true", help="show the plan, send nothing")
    replay.add_argument("--timeout-s", type=positive_seconds, default=120)
    replay.set_defaults(run=run_replay)


def _reason_arg(text: str) -> str:
    if not text.strip() or len(text) > 1000:
        raise argparse.ArgumentTypeError("the reason must be 1-1000 characters")
    return text


def _service_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", choices=SERVICES, metavar="SERVICE",
                        help=f"one of {', '.join(SERVICES)}")


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    """A dead letter with its x-dlq headers pulled out."""

    record: Record
    dlq: dict[str, str]
    original_headers: list[tuple[str, bytes]]

    @staticmethod
    def of(record: Record) -> DeadLetterView:
        dlq = {name: value.decode("utf-8", "replace") for name, value in record.headers
               if name in DLQ_HEADERS}
        original = [(name, value) for name, value in record.headers if name not in DLQ_HEADERS]
        return DeadLetterView(record, dlq, original)

    @property
    def position(self) -> str:
        return f"{self.record.partition}:{self.record.offset}"

    @property
    def original_position(self) -> str:
        partition = self.dlq.get("x-original-partition", "?")
        return f"{partition}:{self.dlq.get('x-original-offset', '?')}"


def render_bytes(raw: bytes | None, limit: int | None) -> tuple[str, str, bool]:
    """(text, encoding, truncated): UTF-8 text when it decodes, else hex."""
    if raw is None:
        return "", "null", False
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.hex(), "hex"
    if limit is not None and len(text) > limit:
        return text[:limit], encoding, True
    return text, encoding, False


def diagnose(raw: bytes | None) -> str:
    """Why the record is unreadable, checked again now (the header keeps the first verdict)."""
    try:
        envelope = read_envelope(raw, ENTITY_FIELDS)
    except DeadLetter as verdict:
        return f"{verdict.reason}: {verdict.detail}"
    return f"readable now (type {envelope.type})"


async def run_list(args: argparse.Namespace, env: CliEnv) -> int:
    topic = env.topic(f"{args.service}.dlq")
    async with consumer(env.kafka) as kafka:
        views = [DeadLetterView.of(r) async for r in read_to_end(
            kafka, [topic], timeout_s=args.timeout_s,
            progress=for_operator("dead letters read", args.json))]
    if args.json:
        print_json({"topic": topic, "dead_letters": [_summary(v) for v in views]})
        return 0
    rows = [[v.position, v.dlq.get("x-dlq-reason", "?"),
             env.base_topic(v.dlq.get("x-original-topic", "?")), v.original_position,
             v.dlq.get("x-failed-at", "?"), render_bytes(v.record.key, KEY_CHARS_LISTED)[0],
             str(len(v.record.value or b""))] for v in views]
    print(f"{topic}: {len(views)} dead letter(s)")
    if rows:
        print(render_table(["position", "reason", "original topic", "original", "failed at",
                            "key", "bytes"], rows, right=(6,)))
    return 0


def _summary(view: DeadLetterView) -> dict[str, Any]:
    key, key_encoding, _ = render_bytes(view.record.key, None)
    return {
        "partition": view.record.partition, "offset": view.record.offset,
        "reason": view.dlq.get("x-dlq-reason"),
        "original_topic": view.dlq.get("x-original-topic"),
        "original_position": view.original_position,
        "consumer_group": view.dlq.get("x-consumer-group"),
        "failed_at": view.dlq.get("x-failed-at"),
        "key": key, "key_encoding": key_encoding, "value_bytes": len(view.record.value or b""),
    }


async def run_show(args: argparse.Namespace, env: CliEnv) -> int:
    topic = env.topic(f"{args.service}.dlq")
    partition, offset = args.position
    async with consumer(env.kafka) as kafka:
        view = DeadLetterView.of(await read_one(kafka, topic, partition, offset, timeout_s=30))
    value, encoding, truncated = render_bytes(view.record.value,
                                              None if args.full else VALUE_CHARS_SHOWN)
    details = {**_summary(view), "diagnosis": diagnose(view.record.value),
               "headers": {name: render_bytes(raw, None)[0]
                           for name, raw in view.original_headers},
               "value": value, "value_encoding": encoding, "truncated": truncated}
    if args.json:
        print_json({"topic": topic, **details})
        return 0
    _print_details(topic, details, view)
    return 0


def _print_details(topic: str, details: dict[str, Any], view: DeadLetterView) -> None:
    lines = [
        ("dead letter", f"{topic} {view.position}"),
        ("reason", f"{details['reason']}   (checked again now: {details['diagnosis']})"),
        ("original", f"{details['original_topic']} {details['original_position']}"),
        ("consumer group", str(details["consumer_group"])),
        ("failed at", str(details["failed_at"])),
        ("key", f"{details['key']} ({details['key_encoding']})"),
        ("headers", ", ".join(f"{n}={v}" for n, v in details["headers"].items()) or "(none)"),
        ("value", f"{details['value_bytes']} bytes, shown as {details['value_encoding']}"),
    ]
    for label, text in lines:
        print(f"{label:<15} {text}")
    print(details["value"])
    if details["truncated"]:
        print(f"... truncated after {VALUE_CHARS_SHOWN} characters; --full shows all")


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """What a replay does with each selected letter."""

    send: list[tuple[DeadLetterView, str]]  # (letter, target topic)
    done_before: list[DeadLetterView]  # an earlier replay sent it (skipped without --again)
    refused: list[tuple[DeadLetterView, str]]  # (letter, why it may not be sent)


async def run_replay(args: argparse.Namespace, env: CliEnv) -> int:
    if args.all == (args.position is not None):
        raise UsageError("give exactly one of PARTITION:OFFSET or --all")
    if args.reason is None and not args.dry_run:
        raise UsageError("a replay needs --reason TEXT (it goes into the audit event)")
    topic = env.topic(f"{args.service}.dlq")
    async with consumer(env.kafka) as kafka:
        if args.all:
            records = [r async for r in read_to_end(kafka, [topic], timeout_s=args.timeout_s)]
        else:
            records = [await read_one(kafka, topic, *args.position, timeout_s=30)]
        replayed = await _replayed_before(kafka, env, topic, args.timeout_s)
    plan = _plan(env, args.service, [DeadLetterView.of(r) for r in records], replayed,
                 again=args.again)
    results: list[dict[str, Any]] = []
    audit: dict[str, Any] | None = None
    if plan.send and not args.dry_run:
        audit = await _audit(env, args, topic, plan)
        results = await _republish(env, plan)
    _print_replay(topic, plan, audit, results, args)
    if plan.refused:
        raise CliError(f"{len(plan.refused)} dead letter(s) may not be replayed: "
                       + "; ".join(f"{v.position} ({why})" for v, why in plan.refused))
    return 0


async def _replayed_before(kafka: AIOKafkaConsumer, env: CliEnv, dlq_topic: str,
                           timeout_s: int) -> set[tuple[int, int]]:
    """Positions on `dlq_topic` that earlier replays sent, from their audit events."""
    positions: set[tuple[int, int]] = set()
    async for record in read_to_end(kafka, [env.topic(TOPIC_OPS_COMMANDS)], timeout_s=timeout_s):
        try:
            event = loads_strict(record.value or b"")
        except NotJsonError:
            continue
        if not isinstance(event, dict) or event.get("type") != DLQ_REPLAY_PERFORMED:
            continue
        data = event.get("data")
        if not isinstance(data, dict):
            continue
        if data.get("dlq_topic") == dlq_topic:
            positions |= {(letter["partition"], letter["offset"])
                          for letter in data.get("letters", []) if isinstance(letter, dict)}
    return positions


def _plan(env: CliEnv, service: str, views: list[DeadLetterView],
          replayed: set[tuple[int, int]], *, again: bool) -> ReplayPlan:
    allowed = {env.topic(name) for name in access.reads_of(service)}
    plan = ReplayPlan([], [], [])
    for view in views:
        target = view.dlq.get("x-original-topic", "")
        if target not in allowed:
            why = (f"{target or 'no x-original-topic'} is not a topic {service} consumes")
            plan.refused.append((view, why))
        elif (view.record.partition, view.record.offset) in replayed and not again:
            plan.done_before.append(view)
        else:
            plan.send.append((view, target))
    return plan


async def _audit(env: CliEnv, args: argparse.Namespace, dlq_topic: str,
                 plan: ReplayPlan) -> dict[str, Any]:
    """The audit event, acknowledged by the broker before the first letter is sent."""
    letters = [ReplayedLetter(partition=v.record.partition, offset=v.record.offset,
                              target_topic=target) for v, target in plan.send]
    data = DlqReplayPerformed(
        command_id=new_command_id(), service=args.service, dlq_topic=dlq_topic, letters=letters,
        target_topics=sorted({target for _, target in plan.send}), reason=args.reason,
        operator=env.kafka.principal, again=args.again)
    return await publish_command(env, DLQ_REPLAY_PERFORMED, data, args.service)


async def _republish(env: CliEnv, plan: ReplayPlan) -> list[dict[str, Any]]:
    log = get_logger("cli.dlq")  # per call: the CLI may reconfigure logging between runs
    async with producer(env.kafka) as kafka:
        acks = await send_all(kafka, [
            (target, v.record.key, v.record.value or b"", _replay_headers(v))
            for v, target in plan.send
        ])
    results = []
    for (view, _), ack in zip(plan.send, acks, strict=True):
        result = {"dlq_topic": view.record.topic, "dlq_partition": view.record.partition,
                  "dlq_offset": view.record.offset, "reason": view.dlq.get("x-dlq-reason"),
                  "target_topic": ack.topic, "target_partition": ack.partition,
                  "target_offset": ack.offset, "operator": env.kafka.principal}
        log.info("dlq.replayed", **result)
        results.append(result)
    return results


def _replay_headers(view: DeadLetterView) -> list[tuple[str, bytes]]:
    """The original headers, with where this copy came from (an older mark is replaced)."""
    origin = f"{view.record.topic}:{view.record.partition}:{view.record.offset}"
    return [*((n, v) for n, v in view.original_headers if n != REPLAYED_FROM),
            (REPLAYED_FROM, origin.encode())]


def _print_replay(topic: str, plan: ReplayPlan, audit: dict[str, Any] | None,
                  results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    if args.json:
        print_json({"topic": topic, "dry_run": args.dry_run, "audit": audit,
                    "replayed": results,
                    "would_replay": ([f"{v.position} -> {t}" for v, t in plan.send]
                                     if args.dry_run else []),
                    "replayed_before": [v.position for v in plan.done_before],
                    "refused": [v.position for v, _ in plan.refused]})
        return
    verb = "would replay" if args.dry_run else "replayed"
    targets: dict[str, int] = {}
    for _, target in plan.send:
        targets[target] = targets.get(target, 0) + 1
    print(f"{verb} {len(plan.send)} dead letter(s) from {topic}"
          + "".join(f"\n  -> {t}: {n}" for t, n in sorted(targets.items())))
    if audit is not None:
        print(f"audit: {DLQ_REPLAY_PERFORMED} {audit['command_id']} on {audit['topic']} "
              f"{audit['partition']}:{audit['offset']} by {audit['operator']}")
    if plan.done_before:
        print(f"skipped {len(plan.done_before)} already replayed (--again sends them): "
              + ", ".join(v.position for v in plan.done_before))
    for view, why in plan.refused:
        print(f"refused {view.position}: {why}")
