"""Month reports built from the read model with the code of `pension-ops report`.

The refresher rebuilds the report of every period a batch changed, at most once per interval,
and stores it as `pension-ops report PERIOD --json` prints it; pages read those snapshots, so
they answer in milliseconds and show exactly the figures and verdicts of the command line.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

import asyncpg

from services.console import store
from shared.cli.report import report_json
from shared.cli.report_model import ReportBuilder
from shared.logging import get_logger
from shared.messaging import TRANSIENT_ERRORS, Backoff, as_connection
from shared.settings import Settings

REFRESH_INTERVAL_S: Final = 1.0
log = get_logger("console.reports")


async def build_reports(conn: asyncpg.Connection, periods: list[str]) -> dict[str, dict[str, Any]]:
    """The JSON report of each period, from one read of the events (as report.build_report)."""
    events = await store.report_events(conn)
    builders = {period: ReportBuilder(period) for period in periods}
    for builder in builders.values():
        for stored in events:
            builder.add(stored.topic, stored.offset, stored.event)
    missing = set().union(*(b.unattributed_rejections() for b in builders.values()))
    if missing:
        declared = await store.declared(conn, missing)
        for builder in builders.values():
            for data in declared:
                builder.add_declared(data)
    return {period: report_json(builder.build()) for period, builder in builders.items()}


async def refresh_once(pool: asyncpg.Pool) -> int:
    """Rebuild the reports of the dirty periods; returns how many were rebuilt."""
    async with pool.acquire() as proxy:
        conn = as_connection(proxy)
        dirty = await store.dirty_periods(conn)
        if not dirty:
            return 0
        # Read in one snapshot, so the reports of several periods agree with each other.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            reports = await build_reports(conn, sorted(dirty))
        for period, report in reports.items():
            await store.save_snapshot(conn, period, dirty[period], report)
    return len(reports)


async def refresh_forever(pool: asyncpg.Pool, settings: Settings) -> None:
    """Never ends the process: a database outage delays the reports (pages say how old)."""
    backoff = Backoff.of(settings, budgeted=False)
    while True:
        started = time.perf_counter()
        try:
            rebuilt = await refresh_once(pool)
        except (*TRANSIENT_ERRORS, asyncpg.PostgresError) as error:
            delay_s = backoff.next_delay_s() or REFRESH_INTERVAL_S
            log.warning("reports.retry", error=type(error).__name__,
                        delay_ms=round(delay_s * 1000))
            await asyncio.sleep(delay_s)
            continue
        backoff.reset()
        if rebuilt:
            log.info("reports.rebuilt", periods=rebuilt,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1))
        await asyncio.sleep(REFRESH_INTERVAL_S)
