"""A trivial service on the shared messaging layer: one effect row and one event per input.

Run in-process by the integration tests, or as `python -m tests.integration.probe_service` (with
PROBE_NAME and PROBE_TOPIC set) when a test needs to kill it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg

from shared.contracts.registry import ENTITY_FIELDS
from shared.messaging import Batch, Cause, Handling, Outbox
from shared.service import Runtime, ServiceSpec, run_service

PROBE_TYPE = "test.probe.v1"
PROBE_DONE_TYPE = "test.probe.done.v1"


class BrokenInvariantError(Exception):
    """What a service raises when its own rules are broken: the consumer must halt, not skip."""


def probe_spec(name: str, topic: str, slow_ms: int = 0, broken: bool = False) -> ServiceSpec:
    def factory(runtime: Runtime) -> Handling:
        async def handle(conn: asyncpg.Connection, batch: Batch, outbox: Outbox) -> None:
            if slow_ms:
                await asyncio.sleep(slow_ms / 1000)  # lets a test signal a batch in flight
            if broken:
                raise BrokenInvariantError("ledger does not balance")
            await conn.executemany(
                "INSERT INTO effect (source, event_id, probe_id) VALUES ($1, $2, $3)",
                [(e.envelope.source, e.envelope.id, e.data["probe_id"]) for e in batch.events],
            )
            for event in batch.events:
                outbox.event(topic=f"{name}.out", key=event.data["probe_id"],
                             event_type=PROBE_DONE_TYPE,
                             data={"probe_id": event.data["probe_id"]}, cause=Cause.of(event))
            for conflict in batch.conflicts:
                outbox.event(topic=f"{name}.out", key=conflict.data["probe_id"],
                             event_type="test.probe.rejected.v1",
                             data={"probe_id": conflict.data["probe_id"], "reasons": [
                                 {"code": "CONFLICTING_DUPLICATE", "field": None,
                                  "message": "same event id, other content"}]},
                             cause=Cause.of(conflict))
        return Handling(apply=handle)

    return ServiceSpec(
        name=name,
        topics=(topic,),
        handled_types=frozenset({PROBE_TYPE}),
        handler_factory=factory,
        migrations_package="tests.integration.probe_migrations",
        http_port_default=0,
        entity_fields={**ENTITY_FIELDS, PROBE_TYPE: "probe_id", PROBE_DONE_TYPE: "probe_id"},
    )


if __name__ == "__main__":
    run_service(probe_spec(os.environ["PROBE_NAME"], os.environ["PROBE_TOPIC"],
                           int(os.environ.get("PROBE_SLOW_MS", "0")),
                           os.environ.get("PROBE_BROKEN") == "1"))
