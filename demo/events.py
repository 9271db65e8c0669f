"""Records the feeder publishes, as plain data; the CloudEvent `time` is stamped at publish time.

Event ids are uuid5 values of the business key and the seed, so feeding the same seed twice
republishes the same events and the services' inboxes absorb the repeats.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any, Final

from shared.ids import NAMESPACE

DEMO_NAMESPACE: Final = uuid.uuid5(NAMESPACE, "demo-feeder")
TAX_SOURCE: Final = "/tax/150000"
OPS_SOURCE: Final = "/ops/demo"
CONTENT_TYPE: Final = "application/cloudevents+json"

# Inbound topics (base names; the feeder adds the namespace prefix).
DECLARATIONS: Final = "tax.contribution.declarations"
PAYMENTS: Final = "tax.contribution.payments"
APPROPRIATIONS: Final = "finance.subsidy.appropriations"
BUDGETS: Final = "finance.subsidy.budgets"
SETTLEMENTS: Final = "finance.transfer.settlements"
COMMANDS: Final = "ops.commands"


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: str
    event_type: str
    source: str
    event_id: str
    data: dict[str, Any]

    def value(self, time: str) -> bytes:
        event = {"specversion": "1.0", "id": self.event_id, "source": self.source,
                 "type": self.event_type, "time": time, "datacontenttype": "application/json",
                 "subject": self.key, "data": self.data}
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def message(topic: str, key: str, event_type: str, source: str, data: dict[str, Any],
            *identity: object) -> Message:
    """A message whose event id is derived from `identity` (the business key and the seed)."""
    event_id = str(uuid.uuid5(DEMO_NAMESPACE, "/".join(str(part) for part in identity)))
    return Message(topic, key, event_type, source, event_id, data)


# ---- calendar helpers (periods are "YYYY-MM") -------------------------------------------------


def period_day(period: str, day: int) -> dt.date:
    year, month = int(period[:4]), int(period[5:7])
    return dt.date(year, month, day)


def period_last_day(period: str) -> dt.date:
    year, month = int(period[:4]), int(period[5:7])
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def month_after(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + month // 12}-{month % 12 + 1:02d}"
