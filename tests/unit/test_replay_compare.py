"""make replay-check's comparison: only `time` and a dead letter's time and group may differ;
any other byte, a missing or extra event, or another order on a key is the first difference."""

from __future__ import annotations

import json

from shared.messaging import Record
from tests.faults.replay import first_difference

NAMESPACES = ("ta", "tb")


def _event(event_id: str, key: bytes, time: str, amount: str, offset: int) -> Record:
    value = json.dumps({"specversion": "1.0", "id": event_id, "source": "/collection",
                        "type": "collection.contribution.settled.v1", "time": time,
                        "subject": key.decode(), "data": {"amount_paid": amount}},
                       separators=(",", ":")).encode()
    return Record("collection.declarations", 0, offset, key, value, ())


def _letter(namespace: str, failed_at: bytes, value: bytes) -> Record:
    headers = (("content-type", b"application/cloudevents+json"), ("x-dlq-reason", b"NOT_JSON"),
               ("x-original-topic", f"{namespace}.tax.contribution.declarations".encode()),
               ("x-original-partition", b"0"), ("x-original-offset", b"7"),
               ("x-consumer-group", f"collection_{namespace}".encode()),
               ("x-failed-at", failed_at))
    return Record("collection.dlq", 0, 0, b"K", value, headers)


def test_runs_that_differ_only_in_time_and_dead_letter_stamps_agree() -> None:
    left = {"collection.declarations": [_event("e1", b"K", "2026-01-01T00:00:00", "1.00", 0),
                                        _event("e1", b"K", "2026-01-01T00:00:09", "1.00", 1),
                                        _event("e2", b"K", "2026-01-01T00:00:01", "2.00", 2)],
            "collection.dlq": [_letter("ta", b"2026-01-01", b"{bad")]}
    right = {"collection.declarations": [_event("e1", b"K", "2027-05-05T10:00:00", "1.00", 0),
                                         _event("e2", b"K", "2027-05-05T10:00:00", "2.00", 1)],
             "collection.dlq": [_letter("tb", b"2027-05-05", b"{bad")]}
    difference, compared = first_difference(left, right, NAMESPACES)
    assert difference is None
    assert compared == 3


def test_another_amount_another_order_or_a_missing_event_is_reported() -> None:
    original = [_event("e1", b"K", "t", "1.00", 0), _event("e2", b"K", "t", "2.00", 1)]
    changed = [_event("e1", b"K", "t", "1.01", 0), _event("e2", b"K", "t", "2.00", 1)]
    swapped = [original[1], original[0]]
    for replay in (changed, swapped, original[:1]):
        difference, _ = first_difference({"collection.declarations": original},
                                          {"collection.declarations": replay}, NAMESPACES)
        assert difference is not None
        assert "collection.declarations key K event #" in difference
    letter = _letter("tb", b"x", b"{other")
    difference, _ = first_difference({"collection.dlq": [_letter("ta", b"x", b"{bad")]},
                                      {"collection.dlq": [letter]}, NAMESPACES)
    assert difference is not None


def test_unordered_comparison_forgives_only_the_order() -> None:
    original = [_event("e1", b"K", "t", "1.00", 0), _event("e2", b"K", "t", "2.00", 1)]
    swapped = [original[1], original[0]]
    assert first_difference({"collection.declarations": original},
                            {"collection.declarations": swapped}, NAMESPACES,
                            ordered=False)[0] is None
    assert first_difference({"collection.declarations": original},
                            {"collection.declarations": swapped[:1]}, NAMESPACES,
                            ordered=False)[0] is not None
