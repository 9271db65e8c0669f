"""What the read model keeps of one event, decided without I/O.

An event becomes one `EventRow`: where it was read, what it is, the declaration it is about (for
the trace), the fiscal entity and period it belongs to (for the month reports), and every id it
names (to follow the money from a declaration into remittances, top-ups and transfer notices).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from shared.access import CONSOLE_READS
from shared.cli import report_annuity
from shared.contracts.topology import SERVICES, types_on
from shared.contracts.wire import Envelope

REPORT_TOPICS: Final = ("collection.declarations", "transfer.obligations", "transfer.notices",
                        "annuity.ledger")
"""shared/cli/report.py REPORT_TOPICS: what `pension-ops report` reads."""
CONSUMED_TOPICS: Final = CONSOLE_READS
"""The report's topics and the tax bureau's: the console's rights list them (shared/access.py)."""
HANDLED_TYPES: Final = frozenset(t for topic in CONSUMED_TOPICS for t in types_on(topic))
DEAD_LETTER_TOPICS: Final = tuple(flows.dead_letter_topic for flows in SERVICES.values())

ALL_PERIODS: Final = "*"
"""Touched by the events of the sections that count every period to date: top-ups, and the
notional money, fundings and back-credits of shared/cli/report_annuity.py (credits of any fee
period, and the notices that pay a funding or back-credit, change those figures too)."""
_NOTICE_ENDS: Final = frozenset({report_annuity.NOTICE_SETTLED, report_annuity.NOTICE_FAILED})
_ALL_PERIOD_TYPES: Final = (frozenset({"annuity.interest_topup.assessed.v1",
                                       "annuity.interest_topup.allocated.v1",
                                       "annuity.contribution.credited.v1"})
                            | (report_annuity.TYPES - _NOTICE_ENDS))
_ANNUITY_PURPOSES: Final = frozenset({"annuity_notional_funding", "annuity_backcredit"})
_ID_FIELDS: Final = ("declaration_id", "payment_id", "notice_id", "remittance_id",
                     "assessment_id", "request_id", "replaces", "replaced_by")
_PERIOD_FIELDS: Final = ("fee_period", "period")


@dataclass(frozen=True, slots=True)
class EventRow:
    topic: str
    partition: int
    offset: int
    source: str
    event_id: str
    event_type: str
    event_time: str
    declaration_id: str | None
    fiscal_entity_code: str | None
    period: str | None
    keys: tuple[str, ...]
    data: dict[str, Any]

    @property
    def touches_all_periods(self) -> bool:
        if self.event_type in _NOTICE_ENDS:
            return self.data.get("purpose") in _ANNUITY_PURPOSES
        return self.event_type in _ALL_PERIOD_TYPES


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def entity_of(data: dict[str, Any]) -> str | None:
    """The fiscal entity: named directly, or a notice's source account's."""
    direct = _text(data, "fiscal_entity_code")
    if direct is not None:
        return direct
    account = data.get("source_account")
    return _text(account, "entity_code") if isinstance(account, dict) else None


def keys_of(data: dict[str, Any]) -> tuple[str, ...]:
    keys = {value for name in _ID_FIELDS if (value := _text(data, name)) is not None}
    covers = data.get("covers")
    if isinstance(covers, list):
        keys.update(c for c in covers if isinstance(c, str) and c)
    return tuple(sorted(keys))


def event_row(topic: str, partition: int, offset: int, envelope: Envelope) -> EventRow:
    data = envelope.data
    period = next((p for name in _PERIOD_FIELDS if (p := _text(data, name)) is not None), None)
    return EventRow(topic, partition, offset, envelope.source, envelope.id, envelope.type,
                    envelope.time, _text(data, "declaration_id"), entity_of(data), period,
                    keys_of(data), data)
