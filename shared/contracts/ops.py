"""Events of the operator's tool itself (CONTRACTS.md, `ops.commands`): the audit trail of what an
operator did by hand, so an auditor can follow it on the same topic as the commands.

Services read `ops.commands` and skip these (a listed type they do not handle).
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field, StringConstraints

from shared.contracts.fields import Contract, EntityId

DLQ_REPLAY_PERFORMED: Final = "ops.dlq_replay.performed.v1"

TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")]
Principal = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,128}$")]


class ReplayedLetter(Contract):
    """One dead letter sent back: where it lies on the dead-letter topic, where it goes."""

    partition: Annotated[int, Field(ge=0)]
    offset: Annotated[int, Field(ge=0)]
    target_topic: TopicName


class DlqReplayPerformed(Contract):
    """`ops.dlq_replay.performed.v1`: an operator replays dead letters of one service.

    Published before the first letter is sent; each replayed record carries the header
    `x-replayed-from: <dlq topic>:<partition>:<offset>`. `operator` is the principal the tool
    authenticated as; `again` is true when letters replayed before were sent once more.
    """

    command_id: EntityId
    service: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,64}$")]
    dlq_topic: TopicName
    letters: Annotated[list[ReplayedLetter], Field(min_length=1)]
    target_topics: Annotated[list[TopicName], Field(min_length=1)]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    operator: Principal
    again: bool


EVENT_MODELS: dict[str, type[Contract]] = {DLQ_REPLAY_PERFORMED: DlqReplayPerformed}
