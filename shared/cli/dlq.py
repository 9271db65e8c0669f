"""`dlq list | show | replay`: browse a service's dead letters and send them back where they came
from (CONTRACTS.md, "Readable or not"; shared/messaging.py `Outbox.dead_letter` writes them).

`show` prints a record's content for the operator, which is the tool's purpose; the log lines of
`replay` carry positions and topics only, never keys or values (identity numbers stay out of logs).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Final

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
from shared.contracts.registry import ENTITY_FIELDS
from shared.contracts.wire import DeadLetter, read_envelope
from shared.logging import get_logger
from shared.messaging import Record

DLQ_HEADERS: Final = ("x-dlq-reason", "x-original-topic", "x-original-partition",
                      "x-original-offset", "x-consumer-group", "x-failed-at")
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
        description="Republish the original key, value and headers (without the x-dlq headers) "
                    "to x-original-topic with an idempotent producer; one log line per record.",
    )
    _service_arg(replay)
    replay.add_argument("position", type=position_arg, nargs="?", metavar="PARTITION:OFFSET")
    replay.add_argument("--all", action="store_true", help="replay every dead letter")
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed")
    replay.add_argument("--timeout-s", type=positive_seconds, default=120)
    replay.set_defaults(run=run_replay)


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
        views = [DeadLetterView.of(r)
                 async for r in read_to_end(kafka, [topic], timeout_s=args.timeout_s)]
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


async def run_replay(args: argparse.Namespace, env: CliEnv) -> int:
    if args.all == (args.position is not None):
        raise UsageError("give exactly one of PARTITION:OFFSET or --all")
    topic = env.topic(f"{args.service}.dlq")
    async with consumer(env.kafka) as kafka:
        if args.all:
            records = [r async for r in read_to_end(kafka, [topic], timeout_s=args.timeout_s)]
        else:
            records = [await read_one(kafka, topic, *args.position, timeout_s=30)]
    views = [DeadLetterView.of(r) for r in records]
    unroutable = [v for v in views if not v.dlq.get("x-original-topic")]
    routable = [v for v in views if v.dlq.get("x-original-topic")]
    results = [] if args.dry_run else await _republish(env, routable)
    _print_replay(topic, routable, unroutable, results, args)
    if unroutable:
        raise CliError(f"{len(unroutable)} dead letter(s) have no x-original-topic header: "
                       + ", ".join(v.position for v in unroutable))
    return 0


async def _republish(env: CliEnv, views: list[DeadLetterView]) -> list[dict[str, Any]]:
    if not views:
        return []
    log = get_logger("cli.dlq")  # per call: the CLI may reconfigure logging between runs
    async with producer(env.kafka) as kafka:
        acks = await send_all(kafka, [
            (v.dlq["x-original-topic"], v.record.key, v.record.value or b"", v.original_headers)
            for v in views
        ])
    results = []
    for view, ack in zip(views, acks, strict=True):
        result = {"dlq_topic": view.record.topic, "dlq_partition": view.record.partition,
                  "dlq_offset": view.record.offset, "reason": view.dlq.get("x-dlq-reason"),
                  "target_topic": ack.topic, "target_partition": ack.partition,
                  "target_offset": ack.offset}
        log.info("dlq.replayed", **result)
        results.append(result)
    return results


def _print_replay(topic: str, routable: list[DeadLetterView], unroutable: list[DeadLetterView],
                  results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    if args.json:
        print_json({"topic": topic, "dry_run": args.dry_run, "replayed": results,
                    "would_replay": [v.position for v in routable] if args.dry_run else [],
                    "unroutable": [v.position for v in unroutable]})
        return
    verb = "would replay" if args.dry_run else "replayed"
    targets: dict[str, int] = {}
    for view in routable:
        target = view.dlq["x-original-topic"]
        targets[target] = targets.get(target, 0) + 1
    print(f"{verb} {len(routable)} dead letter(s) from {topic}"
          + "".join(f"\n  -> {t}: {n}" for t, n in sorted(targets.items())))
