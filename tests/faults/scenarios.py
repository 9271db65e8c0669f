"""The faults of TESTING.md against the three real services, one scenario per fault.

A scenario runs in a fresh namespace: the services start under deploy/services.sh, a demo month
(and a few unreadable records) is fed, the fault is injected while they work, the namespace is
healed and drained, and tests/faults/invariants.py checks I1-I5 and I7-I9. Every random choice
(when to strike, how long an outage lasts, how far offsets go back) comes from one seed, printed,
so `PENSION_FAULTS_SEED=<seed>` repeats a run.
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from demo.generate import generate_month
from shared.cli.common import SERVICES
from shared.settings import CrashPoint
from tests.faults.invariants import Namespace, check_namespace
from tests.faults.real_services import (
    SESSION_TIMEOUT_S,
    ServiceSet,
    feed_month,
    month_config,
    note,
    publish_hostile,
    read_namespace,
    rewind_group,
    run_seconds,
    settle,
)
from tests.support import REPO_ROOT, connect_db, create_namespace, topic_names

CRASH_POINTS: Final[tuple[CrashPoint, ...]] = (
    "after_fetch", "mid_transaction", "after_db_commit", "relay_after_send")
CRASH_WAIT_S_MAX: Final = 180
PERIOD: Final = "2025-03"


@dataclass(slots=True)
class Run:
    """One scenario's state: its services, its random source and what it did and measured."""

    services: ServiceSet
    rng: random.Random
    workdir: Path
    injected: list[str] = field(default_factory=list)
    heal_s: float | None = None  # from the fault's start until every service is ready again
    after_lifted_s: float | None = None  # from the harness lifting it (restart, SIGCONT)

    def did(self, what: str) -> None:
        self.injected.append(what)
        note(f"  injected: {what}")

    async def healed(self, fault_at: float, lifted_at: float | None = None) -> None:
        """Wait (bounded) until every service answers /readyz again; record how long it took."""
        await self.services.wait_ready()
        self.heal_s = run_seconds(fault_at)
        self.after_lifted_s = run_seconds(lifted_at if lifted_at is not None else fault_at)


Inject = Callable[[Run], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    inject: Inject  # while the month is fed
    crash: tuple[str, CrashPoint] | None = None  # a service started with a crash point
    after: Inject | None = None  # once the month went through and the namespace is idle
    long: bool = False  # only in `make faults`


# ---- the faults -------------------------------------------------------------------------------


def crashed_once(service: str, point: CrashPoint) -> Inject:
    """The service starts a few seconds into the load with its crash point set: its first batch
    (or relay round) is a backlog of many records, so the crash leaves much work half done."""

    async def inject(run: Run) -> None:
        marker = run.workdir / "crashed"
        await asyncio.sleep(run.rng.uniform(3.0, 10.0))
        await asyncio.to_thread(run.services.up, service, PENSION_CRASH_AT=point,
                                PENSION_CRASH_ONCE_FILE=str(marker))
        deadline = time.monotonic() + CRASH_WAIT_S_MAX
        while not marker.exists():
            assert time.monotonic() < deadline, f"{service} never reached {point}"
            await asyncio.sleep(0.2)
        crashed_at = time.monotonic() - (time.time() - marker.stat().st_mtime)
        run.did(f"{service} killed itself with SIGKILL at {point}")
        await _restarted(run, service, crashed_at)

    return inject


def killed_at_random(service: str) -> Inject:
    async def inject(run: Run) -> None:
        await asyncio.sleep(run.rng.uniform(2.0, 15.0))
        killed_at = time.monotonic()
        pid = run.services.signal(service, signal.SIGKILL)
        run.did(f"kill -9 of {service} (pid {pid}) at a random moment of the load")
        await _restarted(run, service, killed_at)

    return inject


async def _restarted(run: Run, service: str, fault_at: float) -> None:
    """The supervisor brought the service back: ready, and it counts the restart."""
    await asyncio.sleep(0.5)  # the dead process's port may still be answering for a moment
    await run.healed(fault_at)
    details = (await run.services.readiness(service)).get("details", {})
    assert details.get("restarts", 0) >= 1, f"{service} was not restarted: {details}"


def paused_past_session_timeout(service: str) -> Inject:
    """A zombie: a second instance joins, the first is stopped past its session timeout (its
    partitions move to the second, maybe mid-batch), then continues and finds itself fenced."""

    async def inject(run: Run) -> None:
        await asyncio.sleep(run.rng.uniform(1.0, 4.0))
        run.services.start_extra(service)
        await asyncio.sleep(5)
        pid = run.services.signal(service, signal.SIGSTOP)
        stopped_at = time.monotonic()
        paused_s = SESSION_TIMEOUT_S + run.rng.uniform(3.0, 8.0)
        await asyncio.sleep(paused_s)
        run.services.signal(service, signal.SIGCONT)
        resumed_at = time.monotonic()
        run.did(f"{service} (pid {pid}) stopped with SIGSTOP for {paused_s:.1f} s beside a "
                "second instance, then SIGCONT")
        await run.healed(stopped_at, resumed_at)
        await asyncio.sleep(3)
        run.services.stop_extras()

    return inject


def stack_crash(component: str, down_s: tuple[float, float]) -> Inject:
    async def inject(run: Run) -> None:
        await asyncio.sleep(run.rng.uniform(2.0, 10.0))
        await asyncio.to_thread(_stack, "crash", component)
        crashed_at = time.monotonic()
        outage_s = run.rng.uniform(*down_s)
        await asyncio.sleep(outage_s)
        await asyncio.to_thread(_stack, "up")
        restarted_at = time.monotonic()
        how = "kill -9 of the broker" if component == "kafka" else (
            "PostgreSQL stopped with -m immediate")
        run.did(f"{how}, restarted after {outage_s:.0f} s")
        await run.healed(crashed_at, restarted_at)

    return inject


def _stack(*args: str) -> None:
    subprocess.run(["bash", str(REPO_ROOT / "deploy" / "stack.sh"), *args], check=True,
                   capture_output=True, timeout=300)


def instances_join_and_leave(service: str) -> Inject:
    async def inject(run: Run) -> None:
        await asyncio.sleep(run.rng.uniform(1.0, 5.0))
        joined_at = time.monotonic()
        graceful = run.services.start_extra(service)
        await asyncio.sleep(run.rng.uniform(4.0, 8.0))
        graceful.terminate()
        await asyncio.to_thread(graceful.wait, 60)
        abrupt = run.services.start_extra(service)
        await asyncio.sleep(run.rng.uniform(3.0, 6.0))
        abrupt.kill()
        await asyncio.to_thread(abrupt.wait, 30)
        run.did(f"a second {service} joined and left with SIGTERM (exit {graceful.returncode}),"
                f" a third joined and was killed with SIGKILL")
        await run.healed(joined_at)

    return inject


async def no_fault_during_load(run: Run) -> None:
    return


def offsets_reset(service: str) -> Inject:
    """The group stopped, its offsets moved back by N on every partition, the service started
    again: what it reads again must have no second effect (no new outbox row, nothing new)."""

    async def after(run: Run) -> None:
        schema = run.services.schema(service)
        before = await _outbox_rows(schema)
        run.services.down(service)
        records_back = run.rng.randint(10, 200)
        replayed = await rewind_group(run.services, service, records_back)
        reset_at = time.monotonic()
        run.services.up(service)
        run.did(f"{service} stopped, its offsets moved back by {records_back} per partition "
                f"({replayed} records to read again), started again")
        await settle(run.services)  # ready, and the records read again are handled
        run.heal_s = run.after_lifted_s = run_seconds(reset_at)
        handled = await _handled(run.services, service)
        assert replayed > 0, "nothing was rewound: the fault proved nothing"
        assert handled.get("duplicate", 0) > 0, f"no record read again as a duplicate: {handled}"
        assert handled.get("new", 0) == 0, f"records read again were new: {handled}"
        assert await _outbox_rows(schema) == before, "records read again published something"

    return after


async def _outbox_rows(schema: str) -> int:
    conn = await connect_db(schema)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox"))
    finally:
        await conn.close()


async def _metrics_text(services: ServiceSet, service: str) -> str:
    """The whole /metrics page (the CLI's http_get stops at 64 KiB, a status probe's size)."""
    url = services.url(service) + "/metrics"  # http://127.0.0.1:<port>, built here

    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return str(answer.read().decode())

    return await asyncio.to_thread(fetch)


async def _handled(services: ServiceSet, service: str) -> dict[str, float]:
    text = await _metrics_text(services, service)
    pattern = re.compile(r'^pension_records_handled_total\{[^}]*outcome="([a-z_]+)"[^}]*\} (\S+)$',
                         re.MULTILINE)
    return {outcome: float(value) for outcome, value in pattern.findall(text)}


def all_scenarios() -> list[Scenario]:
    scenarios = [Scenario(f"{service} crashes at {point}", crashed_once(service, point),
                          crash=(service, point))
                 for service in SERVICES for point in CRASH_POINTS]
    scenarios += [Scenario(f"{service} killed at a random moment", killed_at_random(service))
                  for service in SERVICES]
    scenarios += [Scenario(f"{service} paused past its session timeout",
                           paused_past_session_timeout(service)) for service in SERVICES]
    scenarios += [
        Scenario("broker killed and restarted", stack_crash("kafka", (5.0, 20.0))),
        Scenario("database stopped for 30 s", stack_crash("postgres", (30.0, 30.0))),
        Scenario("database stopped for 3 minutes", stack_crash("postgres", (180.0, 180.0)),
                 long=True),
    ]
    scenarios += [Scenario(f"{service} second instance joins and leaves",
                           instances_join_and_leave(service)) for service in SERVICES]
    scenarios += [Scenario(f"{service} offsets reset back", no_fault_during_load,
                           after=offsets_reset(service)) for service in SERVICES]
    return scenarios


SHORT_SUBSET: Final = ("collection crashes at mid_transaction",
                       "fund_transfer killed at a random moment",
                       "occupational_annuity offsets reset back")
"""What `make test` runs: one crash point, one random kill, one offset reset (~3 minutes)."""


# ---- one run ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    scenario: str
    injected: tuple[str, ...]
    heal_s: float | None
    after_lifted_s: float | None
    drain_s: float
    total_s: float
    checked: dict[str, int]
    problems: tuple[str, ...]

    @property
    def events_checked(self) -> int:
        return sum(count for name, count in self.checked.items() if name != "I9_log_lines")


async def run_scenario(scenario: Scenario, seed: int, workdir: Path) -> Outcome:
    started = time.monotonic()
    rng = random.Random(f"{seed}/{scenario.name}")  # test timing, not secrets
    namespace = await create_namespace()
    services = ServiceSet(namespace, workdir / "services")
    run = Run(services, rng, workdir)
    note(f"[seed {seed}] {scenario.name} (namespace {namespace})")
    try:
        await _start(run, scenario)
        await publish_hostile(services)
        config = month_config(rng.randrange(10**9))
        load = asyncio.create_task(feed_month(services, config))
        try:
            await scenario.inject(run)
            await load
        finally:
            if not load.done():
                load.cancel()
        drain_s = await settle(services)
        if scenario.after is not None:
            await scenario.after(run)
        records = await read_namespace(namespace, topic_names())
        people = {p.person_id for e in generate_month(config).employers for p in e.persons}
        metrics = {s: await _metrics_text(services, s) for s in SERVICES}
        verdict = await check_namespace(Namespace(namespace, records), env=services.cli_env(),
                                        logs=services.logs(), period=PERIOD,
                                        identity_numbers=people, metrics=metrics)
    finally:
        services.stop_extras()
        services.down()
    outcome = Outcome(scenario.name, tuple(run.injected), run.heal_s, run.after_lifted_s,
                      round(drain_s, 1),
                      run_seconds(started), dict(verdict.checked), tuple(verdict.problems))
    note(f"  ready again {outcome.heal_s} s after the fault began ({outcome.after_lifted_s} s "
         f"after it was lifted), drained {outcome.drain_s} s after the load, "
         f"{outcome.total_s} s in all; checked: {verdict.summary()}")
    for problem in outcome.problems[:20]:
        note(f"  PROBLEM {problem}")
    return outcome


async def _start(run: Run, scenario: Scenario) -> None:
    if scenario.crash is None:
        run.services.up()
        return
    service, _ = scenario.crash
    run.services.up(*(s for s in SERVICES if s != service))  # it starts during the load
