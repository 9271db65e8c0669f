"""The streams page's figures, polled in the background so the page never waits on a probe.

Every few seconds: each service's /healthz and /readyz (its `details` carry the outbox's waiting
and set-aside rows and the supervisor's restarts), and each consumer group's lag per topic (the
services' and the console's own), as `pension-ops status` reads them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from shared.cli.kafka import Lag, LagProbe
from shared.cli.status import SERVICE_INPUTS, Health, service_health
from shared.clock import SHANGHAI
from shared.logging import get_logger

POLL_INTERVAL_S: Final = 5.0
log = get_logger("console.streams")


@dataclass(slots=True)
class StreamsView:
    health: list[Health] = field(default_factory=list)
    lags: list[Lag] = field(default_factory=list)
    read_at: dt.datetime | None = None
    lag_error: str | None = None


class StreamsPoller:
    def __init__(self, service_urls: Mapping[str, str], groups: Mapping[str, Sequence[str]],
                 kafka_options: dict[str, Any]) -> None:
        self.service_urls = service_urls
        self.groups = groups
        self.kafka_options = kafka_options
        self.view = StreamsView()

    async def run(self) -> None:
        """Never ends: a probe that fails shows on the page as what it is (down, no lag)."""
        while True:
            try:
                await self._poll_with_clients()
            except (KafkaError, OSError, TimeoutError) as error:
                self.view.lag_error = type(error).__name__
                log.warning("streams.kafka_unreachable", error=type(error).__name__)
                await self._poll_health()
                await asyncio.sleep(POLL_INTERVAL_S)

    async def _poll_with_clients(self) -> None:
        options = {**self.kafka_options, "client_id": "console-streams",
                   "request_timeout_ms": 10_000}
        kafka = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False)
        admin = AIOKafkaAdminClient(**options)
        await kafka.start()
        try:
            await admin.start()
            try:
                probe = LagProbe(kafka, admin)
                while True:
                    lags = await probe.lags(self.groups)
                    await self._poll_health()
                    self.view.lags, self.view.lag_error = lags, None
                    await asyncio.sleep(POLL_INTERVAL_S)
            finally:
                await admin.close()
        finally:
            await kafka.stop()

    async def _poll_health(self) -> None:
        self.view.health = list(await asyncio.gather(
            *(service_health(name, url) for name, url in self.service_urls.items())))
        self.view.read_at = dt.datetime.now(SHANGHAI)


def service_groups(schema_for: Any, topic: Any, console_group: str,
                   console_topics: Sequence[str]) -> dict[str, list[str]]:
    """Each service's consumer group and the topics it reads, and the console's own."""
    groups = {schema_for(name): [topic(t) for t in topics]
              for name, topics in SERVICE_INPUTS.items()}
    groups[console_group] = [topic(t) for t in console_topics]
    return groups
