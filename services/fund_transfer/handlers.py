"""The batch handler: validate, load the batch's rows once, apply the domain, write in bulk.

Runs inside the batch's single transaction (shared/messaging.py), so the rows, the ledger and the
outbox events of a batch commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import asyncpg

from services.fund_transfer import domain, events, store, validation
from services.fund_transfer.domain import assessment
from services.fund_transfer.model import Changes, Item, Outbound, Rules
from shared.contracts import transfer
from shared.contracts.assessment import TRANSFER_ASSESSED, AssessmentCommand
from shared.messaging import Batch, Cause, Handling, Inbound, Outbox


def make_handling(rules: Rules) -> Handling:
    def check(event: Inbound) -> Item:
        return validation.parse(event.type, event.data, _record_key(event), rules)

    async def handle(conn: asyncpg.Connection, batch: Batch, outbox: Outbox) -> None:
        items = [cast(Item, e.item) for e in batch.events]
        working_set = await store.load(conn, domain.needs(items, rules), rules)
        for inbound, item in zip(batch.events, items, strict=True):
            if isinstance(item, AssessmentCommand):
                # Read from the tables: what the batch changed before the command goes first.
                await store.save(conn, working_set.changes)
                working_set.changes = Changes()
                _publish(outbox, inbound, await _assess(conn, item, rules))
                continue
            _publish(outbox, inbound, domain.apply(working_set, item, rules))
        for inbound in batch.conflicts:
            invalid = validation.conflict(inbound.type, inbound.data, _record_key(inbound))
            if invalid is not None:
                _publish(outbox, inbound, [events.rejected(invalid)])
        await store.save(conn, working_set.changes)

    return Handling(apply=handle, check=check)


async def _assess(conn: asyncpg.Connection, command: AssessmentCommand,
                  rules: Rules) -> list[Outbound]:
    """fund_transfer's part of the assessment of each of the 14 leagues/cities."""
    obligations = await store.assessed_obligations(conn, command.period)
    budgets = await store.budgets_in_force(conn, int(command.period[:4]))
    return [
        Outbound(transfer.TOPIC_OBLIGATIONS, entity, TRANSFER_ASSESSED, assessment.entity_data(
            entity, [o for o in obligations if o.fiscal_entity_code == entity],
            {b.fund: b for b in budgets if b.fiscal_entity_code == entity}, command, rules))
        for entity in sorted(rules.book.subsidy_sources)
    ]


def _publish(outbox: Outbox, inbound: Inbound, outbound: Iterable[Outbound]) -> None:
    cause = Cause.of(inbound)
    for event in outbound:
        outbox.event(topic=event.topic, key=event.key, event_type=event.event_type,
                     data=event.data, cause=cause)


def _record_key(inbound: Inbound) -> str:
    """Rejections keep the key the partner chose (its fiscal entity code, by contract)."""
    return inbound.record.key_text() or inbound.envelope.entity_id
