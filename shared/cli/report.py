"""`report PERIOD`: per fiscal entity figures of a month, read from the outbound topics.

The topics are read from the beginning without a consumer group, up to the end offsets seen at
the start, so the report is a consistent snapshot of what the services have published.
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from shared.cli.common import CliEnv, period_arg, positive_seconds, print_json, render_table, yuan
from shared.cli.entities import FISCAL_ENTITIES
from shared.cli.kafka import consumer, read_to_end
from shared.cli.progress import Progress, for_operator
from shared.cli.report_model import Report, ReportBuilder
from shared.cli.report_section import Section
from shared.contracts.wire import NotJsonError, loads_strict

REPORT_TOPICS: Final = ("collection.declarations", "transfer.obligations", "transfer.notices",
                        "annuity.ledger")
DECLARATIONS_TOPIC: Final = "tax.contribution.declarations"


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    report = commands.add_parser(
        "report", parents=[common], help="a month's figures per fiscal entity, reconciled",
        description="Contributions, subsidies and occupational annuity of a fee period per "
                    "fiscal entity (the 14 leagues/cities and the region), with top-ups, "
                    "notional balances, 做实 fundings and 补记 back-credits to date; budgets "
                    "against appropriations, the latest assessment (考核), annuity base findings "
                    "and enterprise annuity filings of the period; totals and reconciliation "
                    "checks, from " + ", ".join(REPORT_TOPICS) + ".",
    )
    report.add_argument("period", type=period_arg, metavar="PERIOD", help="YYYY-MM")
    report.add_argument("--strict", action="store_true",
                        help="exit 1 when any section does not reconcile")
    report.add_argument("--timeout-s", type=positive_seconds, default=600)
    report.set_defaults(run=run_report)


async def build_report(env: CliEnv, period: str, timeout_s: int, *,
                       as_json: bool = True) -> Report:
    builder = ReportBuilder(period)
    async with consumer(env.kafka) as kafka:
        topics = [env.topic(t) for t in REPORT_TOPICS]
        progress = for_operator("events read", as_json)
        async for record in read_to_end(kafka, topics, timeout_s=timeout_s, progress=progress):
            try:
                event = loads_strict(record.value or b"")
            except NotJsonError:
                builder.unreadable += 1
                continue
            builder.add(env.base_topic(record.topic), record.offset, event)
        missing = builder.unattributed_rejections()
        if missing:
            await _read_declared(kafka, env, builder, missing, timeout_s,
                                 progress=for_operator("declarations read", as_json))
    return builder.build()


async def _read_declared(kafka: Any, env: CliEnv, builder: ReportBuilder, ids: set[str],
                         timeout_s: int, *, progress: Progress | None) -> None:
    """Place rejections that do not name their period by the declaration that was rejected."""
    needles = [i.encode() for i in ids]
    async for record in read_to_end(kafka, [env.topic(DECLARATIONS_TOPIC)], timeout_s=timeout_s,
                                    progress=progress):
        value = record.value or b""
        if not any(needle in value for needle in needles):  # cheap before a full parse
            continue
        try:
            event = loads_strict(value)
        except NotJsonError:
            continue
        data = event.get("data") if isinstance(event, dict) else None
        if isinstance(data, dict) and data.get("declaration_id") in ids:
            builder.add_declared(data)


async def run_report(args: argparse.Namespace, env: CliEnv) -> int:
    report = await build_report(env, args.period, args.timeout_s, as_json=args.json)
    if args.json:
        print_json(report_json(report))
    else:
        print(render_report(report))
    reconciles = all(s.reconciles for s in report.sections)
    return 1 if args.strict and not reconciles else 0


def _cell(section: Section, name: str, value: int) -> str:
    kind = next(c.kind for c in section.columns if c.name == name)
    return yuan(value) if kind == "money" else str(value)


def _json_value(section: Section, name: str, value: int) -> int | str:
    """Counts stay integers; money is a yuan string, as on the wire."""
    kind = next(c.kind for c in section.columns if c.name == name)
    return yuan(value) if kind == "money" else value


def report_json(report: Report) -> dict[str, Any]:
    return {
        "period": report.period,
        "reconciles": all(s.reconciles for s in report.sections),
        "events_read": report.events_read,
        "unreadable": report.unreadable,
        "sections": {s.key: _section_json(s) for s in report.sections},
    }


def _section_json(section: Section) -> dict[str, Any]:
    return {
        "title": section.title,
        "columns": [{"name": c.name, "kind": c.kind} for c in section.columns],
        "rows": [{"fiscal_entity_code": code, "name": FISCAL_ENTITIES.get(code, "?"),
                  **{n: _json_value(section, n, v) for n, v in values.items()}}
                 for code, values in section.rows.items()],
        "totals": {n: _json_value(section, n, v) for n, v in section.totals.items()},
        "reconciles": section.reconciles,
        "checks": section.checks,
        "problems": section.problems,
        "notes": section.notes,
    }


def render_report(report: Report) -> str:
    read = ", ".join(f"{t} {n}" for t, n in sorted(report.events_read.items())) or "nothing"
    parts = [f"Report for {report.period} (events read: {read}"
             + (f"; {report.unreadable} unreadable skipped" if report.unreadable else "") + ")"]
    parts.extend(_render_section(s) for s in report.sections)
    broken = [s.key for s in report.sections if not s.reconciles]
    parts.append("Everything reconciles." if not broken
                 else f"DOES NOT RECONCILE: {', '.join(broken)} (see the problems above).")
    return "\n\n".join(parts)


def _render_section(section: Section) -> str:
    names = [c.name for c in section.columns]
    rows = [[code, FISCAL_ENTITIES.get(code, "?"), *(_cell(section, n, values[n]) for n in names)]
            for code, values in section.rows.items()]
    rows.append(["total", "", *(_cell(section, n, section.totals[n]) for n in names)])
    lines = [section.title,
             render_table(["code", "entity", *names], rows, right=range(2, 2 + len(names)))]
    if section.reconciles:
        lines.append("reconciles: yes (" + "; ".join(section.checks) + ")")
    else:
        lines.append("reconciles: NO, " + f"{len(section.problems)} problem(s):")
        lines.extend(f"  - {problem}" for problem in section.problems)
    lines.extend(f"note: {note}" for note in section.notes)
    return "\n".join(lines)
