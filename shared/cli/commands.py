"""`check-deadlines`, `notional-interest` and `annuity-funding`: operator commands published on
ops.commands.

Every time-driven action is an event (CONTRACTS.md, ops.commands), so a check an operator starts
is as auditable and as replayable as the services' own daily schedule.
"""

from __future__ import annotations

import argparse
import datetime as dt
import uuid
from typing import Any, Final

from pydantic import BaseModel

from shared.cli.common import SERVICES, CliEnv, date_arg, print_json
from shared.cli.entities import FISCAL_ENTITIES
from shared.cli.kafka import producer, send_all
from shared.clock import SHANGHAI
from shared.contracts.annuity import ANNUITY_FUNDING_REQUESTED, AnnuityFundingRequested
from shared.contracts.fields import DeadlineCheckRequested, NotionalInterestRequested
from shared.contracts.registry import TOPIC_OPS_COMMANDS
from shared.contracts.wire import CONTENT_TYPE, encode_event

SOURCE: Final = "/ops/cli"
DEADLINE_CHECK: Final = "ops.deadline_check.requested.v1"
NOTIONAL_INTEREST: Final = "ops.notional_interest.requested.v1"


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    check = commands.add_parser(
        "check-deadlines", parents=[common],
        help="ask the services to run every deadline check as of a date",
        description="Publish ops.deadline_check.requested.v1 on ops.commands (keyed by the "
                    "service, or `all`) and print the command id.",
    )
    check.add_argument("--as-of", required=True, type=date_arg, metavar="YYYY-MM-DD",
                       help="the check date; an item is past due when as_of is after its due date")
    check.add_argument("--service", choices=("all", *SERVICES), default="all",
                       help="which service runs the check (default: all)")
    check.set_defaults(run=run_check_deadlines)

    interest = commands.add_parser(
        "notional-interest", parents=[common],
        help="ask occupational_annuity to post a year's notional interest",
        description="Publish ops.notional_interest.requested.v1 on ops.commands, keyed "
                    "occupational_annuity, and print the command id.",
    )
    interest.add_argument("--year", required=True, type=_year_arg, metavar="YYYY")
    interest.set_defaults(run=run_notional_interest)

    funding = commands.add_parser(
        "annuity-funding", parents=[common],
        help="ask occupational_annuity to fund (做实) every member of an entity as of a date",
        description="Publish ops.annuity_funding.requested.v1 on ops.commands, keyed "
                    "occupational_annuity, and print the command id. Members already funded, "
                    "or with no notional balance at the date, are left out.",
    )
    funding.add_argument("--entity", required=True, choices=sorted(FISCAL_ENTITIES),
                         metavar="CODE", help="the fiscal entity code (150000 for the region)")
    funding.add_argument("--as-of", required=True, type=date_arg, metavar="YYYY-MM-DD")
    funding.set_defaults(run=run_annuity_funding)


def _year_arg(text: str) -> int:
    if not (len(text) == 4 and text.isascii() and text.isdigit()) or not 2000 <= int(text) <= 2200:
        raise argparse.ArgumentTypeError(f"year must be YYYY in 2000..2200, got {text!r}")
    return int(text)


def new_command_id() -> str:
    return f"ops-{uuid.uuid4().hex}"


def command_event(event_type: str, data: BaseModel, *, key: str, source: str = SOURCE) -> bytes:
    """A structured-mode CloudEvent for a command; its data validated by the contract model."""
    event_id = str(uuid.uuid4())
    return encode_event(
        event_id=event_id, source=source, event_type=event_type,
        time=dt.datetime.now(SHANGHAI).isoformat(timespec="milliseconds"),
        subject=key, correlation_id=event_id, data=data.model_dump(mode="json"),
    )


async def publish_command(env: CliEnv, event_type: str, data: BaseModel, key: str,
                          *, source: str = SOURCE) -> dict[str, Any]:
    topic = env.topic(TOPIC_OPS_COMMANDS)
    value = command_event(event_type, data, key=key, source=source)
    async with producer(env.kafka) as kafka:
        [metadata] = await send_all(
            kafka, [(topic, key.encode(), value, [("content-type", CONTENT_TYPE.encode())])]
        )
    return {"type": event_type, "topic": topic, "key": key, "partition": metadata.partition,
            "offset": metadata.offset, **data.model_dump(mode="json")}


def _report(published: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(published)
    else:
        print(published["command_id"])


async def run_check_deadlines(args: argparse.Namespace, env: CliEnv) -> int:
    data = DeadlineCheckRequested(command_id=new_command_id(), as_of=args.as_of)
    _report(await publish_command(env, DEADLINE_CHECK, data, args.service), args.json)
    return 0


async def run_notional_interest(args: argparse.Namespace, env: CliEnv) -> int:
    data = NotionalInterestRequested(command_id=new_command_id(), year=args.year)
    _report(await publish_command(env, NOTIONAL_INTEREST, data, "occupational_annuity"), args.json)
    return 0


async def run_annuity_funding(args: argparse.Namespace, env: CliEnv) -> int:
    data = AnnuityFundingRequested(command_id=new_command_id(), fiscal_entity_code=args.entity,
                                   as_of=args.as_of)
    _report(await publish_command(env, ANNUITY_FUNDING_REQUESTED, data, "occupational_annuity"),
            args.json)
    return 0
