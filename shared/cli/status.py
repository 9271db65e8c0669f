"""`status` (health, readiness and consumer lag) and `wait-idle` (block until lag 0 everywhere)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from shared.access import CONSOLE_READS
from shared.cli.common import (
    CONSOLE,
    SERVICES,
    CliEnv,
    CliError,
    positive_seconds,
    print_json,
    render_table,
)
from shared.cli.kafka import Lag, LagProbe, lag_probe
from shared.contracts.topology import SERVICES as TOPOLOGY_SERVICES

HTTP_TIMEOUT_S: Final = 2.0
HTTP_RESPONSE_BYTES_MAX: Final = 64 * 1024
POLL_INTERVAL_S: Final = 0.5
PROGRESS_INTERVAL_MS: Final = 5_000

# What each service's consumer group reads, from the topology the services subscribe by, so a
# topic added to a service is watched too; lag is also shown for any other topic a group has
# committed on.
SERVICE_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    name: flows.consumed_topics for name, flows in TOPOLOGY_SERVICES.items()
}
# The console's read model (services/console/domain.py CONSUMED_TOPICS): its lag is how far the
# pages are behind the topics.
CONSOLE_INPUTS: Final = CONSOLE_READS
LAG_MAX_DEFAULT: Final = 1_000
EXIT_UNHEALTHY: Final = 3


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    status = commands.add_parser(
        "status", parents=[common], help="services' health and readiness, consumer lag",
        description="GET /healthz and /readyz of each service and of the console (2 s timeout; "
                    "`down` when unreachable) and each consumer group's lag per topic. Exit 3 "
                    "when anything is down, not ready (a halted consumer is not ready) or "
                    "lagging by more than --lag-max records on a topic.",
    )
    status.add_argument("--lag-max", type=_records, default=LAG_MAX_DEFAULT, metavar="RECORDS",
                        help=f"a group lagging by more on one topic is a problem "
                             f"(default {LAG_MAX_DEFAULT})")
    status.set_defaults(run=run_status)
    idle = commands.add_parser(
        "wait-idle", parents=[common], help="wait until every consumer group has lag 0",
        description="Poll until the three services' consumer groups have lag 0 on all their "
                    "topics and no input topic grew for --settle-s seconds (so no outbox relay "
                    "is still publishing); exit 1 after --timeout-s.",
    )
    idle.add_argument("--timeout-s", type=positive_seconds, default=600)
    idle.add_argument("--settle-s", type=positive_seconds, default=3)
    idle.set_defaults(run=run_wait_idle)


@dataclass(frozen=True, slots=True)
class Health:
    service: str
    url: str
    healthz: str
    readyz: str
    failing_checks: tuple[str, ...]
    outbox: dict[str, int | float] | None = None


async def http_get(url: str, path: str) -> tuple[int, bytes] | None:
    """(status, body) of GET url+path, or None when nothing answers within the timeout."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise CliError(f"health URL must be http://host:port, got {url!r}")
    request = (f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
               "Connection: close\r\n\r\n").encode()
    try:
        async with asyncio.timeout(HTTP_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            try:
                writer.write(request)
                await writer.drain()
                raw = await _read_to_eof(reader)
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return None
    head, _, body = raw.partition(b"\r\n\r\n")
    fields = head.split(b" ", 2)
    if len(fields) < 2 or not fields[1].isdigit():
        return None
    return int(fields[1]), body


async def _read_to_eof(reader: asyncio.StreamReader) -> bytes:
    raw = b""
    while len(raw) < HTTP_RESPONSE_BYTES_MAX:
        chunk = await reader.read(HTTP_RESPONSE_BYTES_MAX - len(raw))
        if not chunk:
            break
        raw += chunk
    return raw


async def service_health(service: str, url: str) -> Health:
    alive, ready = await asyncio.gather(http_get(url, "/healthz"), http_get(url, "/readyz"))
    healthz = "down" if alive is None else ("up" if alive[0] == 200 else f"unhealthy ({alive[0]})")
    if ready is None:
        return Health(service, url, healthz, "down", ())
    checks, details = _readiness(ready[1])
    failing = tuple(sorted(name for name, ok in checks.items() if ok is not True))
    verdict = "ready" if ready[0] == 200 else f"not ready ({ready[0]})"
    return Health(service, url, healthz, verdict, failing if ready[0] != 200 else (), details)


def _readiness(body: bytes) -> tuple[dict[str, Any], dict[str, int | float] | None]:
    try:
        parsed = json.loads(body)
        checks, details = parsed.get("checks", {}), parsed.get("details")
    except (ValueError, AttributeError):
        return {}, None
    if not isinstance(checks, dict):
        checks = {}
    if not isinstance(details, dict) or not all(
            isinstance(v, int | float) for v in details.values()):
        details = None
    return checks, details


def _records(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise argparse.ArgumentTypeError(f"records must be a non-negative integer, got {text!r}")
    return int(text)


def group_topics(env: CliEnv) -> dict[str, Sequence[str]]:
    return {env.group(service): [env.topic(t) for t in SERVICE_INPUTS[service]]
            for service in SERVICES}


def problems_of(health: Sequence[Health], lags: Sequence[Lag], lag_max: int) -> list[str]:
    """What makes `status` exit 3: down, unhealthy, not ready (halted), lagging past lag_max."""
    problems = [f"{h.service} {h.healthz}" for h in health if h.healthz != "up"]
    problems += [f"{h.service} {h.readyz}" + (f": {', '.join(h.failing_checks)}"
                                              if h.failing_checks else "")
                 for h in health if h.readyz != "ready" and h.healthz == "up"]
    problems += [f"{lag.group} lags {lag.lag} records on {lag.topic} (more than {lag_max})"
                 for lag in lags if lag.lag > lag_max]
    return problems


async def run_status(args: argparse.Namespace, env: CliEnv) -> int:
    targets = (*SERVICES, CONSOLE)
    health = await asyncio.gather(*(service_health(s, env.service_urls[s]) for s in targets))
    async with lag_probe(env.kafka) as probe:
        lags = await probe.lags({**group_topics(env),
                                 env.group(CONSOLE): [env.topic(t) for t in CONSOLE_INPUTS]})
    problems = problems_of(health, lags, args.lag_max)
    code = EXIT_UNHEALTHY if problems else 0
    if args.json:
        print_json({"services": [asdict(h) for h in health],
                    "lag": [asdict(lag) for lag in lags],
                    "total_lag": sum(lag.lag for lag in lags),
                    "healthy": not problems, "problems": problems})
        return code
    print("Services")
    print(render_table(
        ["service", "healthz", "readyz", "url"],
        [[h.service, h.healthz, h.readyz + (f": {', '.join(h.failing_checks)}"
                                             if h.failing_checks else ""), h.url]
         for h in health],
    ))
    print()
    print(outbox_table(health))
    print()
    print(lag_table(lags))
    print()
    print("All up, ready and within the lag limit." if not problems else
          f"{len(problems)} problem(s): " + "; ".join(problems))
    return code


def outbox_table(health: Sequence[Health]) -> str:
    """Each service's outbox: events waiting, rows set aside (refused for good by the broker:
    they need a person), and how long the oldest waiting event has waited."""
    rows = [[h.service, *(str(h.outbox.get(name, "?")) for name in (
        "outbox_pending", "outbox_set_aside", "outbox_oldest_unpublished_s", "restarts")),
             _last_exit(h.outbox)]
            if h.outbox is not None else [h.service, "?", "?", "?", "?", ""] for h in health]
    set_aside = sum(int(h.outbox.get("outbox_set_aside", 0)) for h in health if h.outbox)
    note = (f"\n{set_aside} outbox row(s) set aside: see the service's log (relay.set_aside) "
            "and the README, \"Outbox rows set aside\"" if set_aside else "")
    return ("Outbox (events waiting to be published; rows the broker refused for good) and "
            "restarts by the supervisor\n"
            + render_table(["service", "waiting", "set aside", "oldest waiting s", "restarts",
                            "last exit"], rows, right=(1, 2, 3, 4)) + note)


def _last_exit(details: dict[str, int | float]) -> str:
    code = details.get("last_exit_code")
    if code is None:
        return ""
    return f"{int(code)} (stopped itself)" if code == 70 else str(int(code))


def lag_table(lags: Sequence[Lag]) -> str:
    rows = [[lag.group, lag.topic, str(lag.lag), "" if lag.committed else "never committed"]
            for lag in lags]
    return ("Consumer lag (end offsets minus committed offsets, summed over partitions; a group "
            "that never committed on a topic lags by every record on it)\n"
            + render_table(["group", "topic", "lag", ""], rows, right=(2,))
            + f"\ntotal lag: {sum(lag.lag for lag in lags)}")


@dataclass(slots=True)
class Settling:
    """Idle means lag 0 and end offsets unchanged for a whole settle window.

    Lag 0 alone can be momentary: a service commits its offsets a moment before its outbox relay
    publishes the events that give another service work.
    """

    settle_ms: int
    stable_since_ms: int | None = None
    previous_ends: dict[str, int] | None = None

    def settled(self, lags: Sequence[Lag], ends: dict[str, int], now_ms: int) -> bool:
        grew = self.previous_ends is not None and ends != self.previous_ends
        self.previous_ends = ends
        if grew or any(lag.lag for lag in lags):
            self.stable_since_ms = None
            return False
        if self.stable_since_ms is None:
            self.stable_since_ms = now_ms
        return now_ms - self.stable_since_ms >= self.settle_ms


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


async def wait_idle(env: CliEnv, *, timeout_s: int, settle_s: int = 3,
                    progress: Callable[[str], None] | None = None) -> list[Lag]:
    """Return once the services are idle (see Settling); CliError after timeout_s."""
    groups = group_topics(env)
    topics = sorted({t for ts in groups.values() for t in ts})
    settling = Settling(settle_s * 1000)
    deadline_ms = _now_ms() + timeout_s * 1000
    last_progress_ms = _now_ms()
    async with lag_probe(env.kafka) as probe:
        while True:
            lags, ends = await _snapshot(probe, groups, topics)
            now_ms = _now_ms()
            if settling.settled(lags, ends, now_ms):
                return lags
            if now_ms > deadline_ms:
                raise CliError(f"not idle after {timeout_s} s: {_lag_summary(lags)}")
            if progress is not None and now_ms - last_progress_ms >= PROGRESS_INTERVAL_MS:
                progress(f"waiting for the services: {_lag_summary(lags)}")
                last_progress_ms = now_ms
            await asyncio.sleep(POLL_INTERVAL_S)


async def _snapshot(probe: LagProbe, groups: Mapping[str, Sequence[str]],
                    topics: list[str]) -> tuple[list[Lag], dict[str, int]]:
    return await probe.lags(groups), await probe.end_offsets(topics)


def _lag_summary(lags: Sequence[Lag]) -> str:
    busy = [f"{lag.group} {lag.topic} {lag.lag}" for lag in lags if lag.lag]
    return "lag " + (", ".join(busy) if busy else "0 (input topics still growing)")


async def run_wait_idle(args: argparse.Namespace, env: CliEnv) -> int:
    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    lags = await wait_idle(env, timeout_s=args.timeout_s, settle_s=args.settle_s,
                           progress=progress)
    if args.json:
        print_json({"idle": True, "lag": [asdict(lag) for lag in lags]})
    else:
        print(f"idle: {len({lag.group for lag in lags})} consumer groups have lag 0")
    return 0
