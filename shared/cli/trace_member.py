"""`trace --member PERSON_ID`: a member's money, followed through the requests it is part of.

The events that name the member (registered lines, credits, personnel events, fundings,
back-credits, top-ups, interest adjustments) give the requests their money travels in: the
remittance of each (entity, fee period) credited with the member's real money, the top-up
assessments, fundings and back-credits naming them. Those requests' own events follow:
`transfer.requested.v1`, every notice of `transfer.notices` covering them (issued, settled,
failed and replaced), and the annuity events that complete them. The identity number is looked
for, never shown: summaries name amounts, dates and ids, and the member is shown masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Final

from shared.cli.common import CliEnv
from shared.cli.trace import Traced, order, read_events, traced_event

MEMBER_TOPICS: Final = ("hr.annuity.events", "collection.declarations", "annuity.ledger",
                        "transfer.requests", "transfer.notices")
# Events about requests, kept while reading (they do not name the member) and filtered after:
# a cheap bytes test on the type before any parse.
_REQUEST_TYPES: Final = (b"annuity.remittance.", b"annuity.interest_topup.allocated",
                         b"annuity.notional_funding.completed", b"annuity.backcredit.completed",
                         b"transfer.requested.v1", b"transfer.notice.")
_MEMBER_LISTS: Final = ("lines", "credits", "members", "allocations")
# The field of each request-bearing event that names the request it belongs to.
_REQUEST_FIELDS: Final = ("remittance_id", "assessment_id", "funding_id", "request_id")


@dataclass(frozen=True, slots=True)
class _Seen:
    topic: str
    partition: int
    offset: int
    event: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.event.get("type"))

    @property
    def data(self) -> dict[str, Any]:
        data = self.event.get("data")
        return data if isinstance(data, dict) else {}


def names_member(data: dict[str, Any], person_id: str) -> bool:
    if data.get("person_id") == person_id:
        return True
    return any(isinstance(item, dict) and item.get("person_id") == person_id
               for name in _MEMBER_LISTS for item in _items(data, name))


def _items(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    return value if isinstance(value, list) else []


def requests_of(mine: Iterable[_Seen], remittances: Iterable[_Seen]) -> set[str]:
    """The requests the member's money travels in."""
    request_ids: set[str] = set()
    periods: set[tuple[Any, Any]] = set()
    for seen in mine:
        data = seen.data
        if seen.type == "annuity.contribution.credited.v1":
            periods.add((data.get("fiscal_entity_code"), data.get("fee_period")))
        for name in ("assessment_id", "funding_id", "request_id"):
            if isinstance(data.get(name), str):
                request_ids.add(data[name])
    for seen in remittances:
        key = (seen.data.get("fiscal_entity_code"), seen.data.get("fee_period"))
        if key in periods and isinstance(seen.data.get("remittance_id"), str):
            request_ids.add(seen.data["remittance_id"])
    return request_ids


def about_requests(seen: _Seen, request_ids: set[str]) -> bool:
    data = seen.data
    covers = data.get("covers")
    if isinstance(covers, list) and request_ids.intersection(map(str, covers)):
        return True
    return any(data.get(name) in request_ids for name in _REQUEST_FIELDS)


async def collect_member(env: CliEnv, person_id: str, timeout_s: int, *,
                         as_json: bool = True) -> list[Traced]:
    needle = person_id.encode()

    def keep(value: bytes) -> bool:
        return needle in value or any(t in value for t in _REQUEST_TYPES)

    kept = [_Seen(env.base_topic(record.topic), record.partition, record.offset, event)
            async for record, event in read_events(env, MEMBER_TOPICS, keep, timeout_s,
                                                   as_json=as_json)]
    return order([_traced(s, person_id) for s in follow(kept, person_id)])


def follow(kept: list[_Seen], person_id: str) -> list[_Seen]:
    mine = [s for s in kept if names_member(s.data, person_id)]
    remittances = [s for s in kept if s.type == "annuity.remittance.requested.v1"]
    request_ids = requests_of(mine, remittances)
    return mine + [s for s in kept if s not in mine and about_requests(s, request_ids)]


def _traced(seen: _Seen, person_id: str) -> Traced:
    traced = traced_event(seen.topic, seen.partition, seen.offset, seen.event)
    share = _member_share(seen.data, person_id)
    if share:
        traced = replace(traced, summary=f"{traced.summary}; this member: {share}".lstrip("; "))
    return traced


_SHARE_FIELDS: Final[dict[str, Callable[[dict[str, Any]], str]]] = {
    "credits": lambda m: (f"individual {m.get('individual_real')}, unit real "
                          f"{m.get('unit_real')}, unit notional {m.get('unit_notional')}"),
    "members": lambda m: str(m.get("amount") or m.get("interest")),
    "allocations": lambda m: str(m.get("amount")),
    "lines": lambda m: f"base {m.get('base')}",
}


def _member_share(data: dict[str, Any], person_id: str) -> str:
    for name, show in _SHARE_FIELDS.items():
        for item in _items(data, name):
            if isinstance(item, dict) and item.get("person_id") == person_id:
                return show(item)
    return ""
