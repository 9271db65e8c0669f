"""The batch handler: keep each new event in the read model and mark the reports it changes.

Runs inside the batch's transaction (shared/messaging.py): the rows and the inbox commit
together, then the offsets; a restart or a redelivery adds nothing twice.
"""

from __future__ import annotations

from typing import cast

import asyncpg

from services.console import domain, store
from shared.messaging import Batch, Handling, Inbound, Outbox

_NUL_ESCAPE = b"\\u0000"


def make_handling(topic_prefix: str) -> Handling:
    def check(event: Inbound) -> domain.EventRow:
        record = event.record
        if _NUL_ESCAPE in (record.value or b""):
            # PostgreSQL's jsonb cannot hold U+0000: this record's dead letter, not a halt.
            raise ValueError("a \\u0000 escape, which jsonb cannot store")
        return domain.event_row(record.topic.removeprefix(topic_prefix), record.partition,
                                record.offset, event.envelope)

    async def apply(conn: asyncpg.Connection, batch: Batch, outbox: Outbox) -> None:
        # Conflicts (an id reused with other content) are the producers' business and are
        # recorded by the inbox; the first content stands here too.
        rows = [cast(domain.EventRow, event.item) for event in batch.events]
        if rows:
            await store.save_events(conn, rows)
            await store.mark_dirty(conn, rows)

    return Handling(apply=apply, check=check)
