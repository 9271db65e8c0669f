"""Strict JSON and the CloudEvents envelope tell readable events from dead letters exactly."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.contracts.registry import ENTITY_FIELDS
from shared.contracts.wire import (
    DeadLetter,
    NotJsonError,
    loads_strict,
    payload_hash,
    read_envelope,
)


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": "E-1",
        "source": "/tax/150000",
        "type": "tax.contribution.paid.v1",
        "time": "2025-04-10T09:30:00+08:00",
        "datacontenttype": "application/json",
        "data": {"payment_id": "P-1"},
    }
    base.update(overrides)
    return base


def raw(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def verdict(value: bytes | None) -> str:
    with pytest.raises(DeadLetter) as caught:
        read_envelope(value, ENTITY_FIELDS)
    return caught.value.reason


@pytest.mark.parametrize(
    "text",
    [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1, "a": 1}',
     b'{"a": 1', b"\xff", b"{'a': 1}", b"[" * 33 + b"]" * 33,
     b'{"n": 1234567890123456789}'],
)
def test_strict_json_refuses_what_python_json_would_accept(text: bytes) -> None:
    with pytest.raises(NotJsonError):
        loads_strict(text)


def test_numbers_with_a_fraction_become_decimal_never_float() -> None:
    assert loads_strict(b'{"amount": 6523.10}') == {"amount": Decimal("6523.10")}


def test_nesting_of_thirty_two_levels_is_accepted() -> None:
    assert loads_strict(b"[" * 32 + b"]" * 32) is not None


def test_eighteen_digit_integers_are_accepted() -> None:
    assert loads_strict(b"123456789012345678") == 123456789012345678


def test_a_readable_event_keeps_its_attributes_and_entity_id() -> None:
    envelope = read_envelope(raw(event(correlationid="C-9", subject="91150100MA0N5A7B6L")),
                             ENTITY_FIELDS)
    assert (envelope.id, envelope.source, envelope.entity_id) == ("E-1", "/tax/150000", "P-1")
    assert envelope.correlation_id == "C-9"


def test_without_correlationid_the_event_id_is_the_correlation() -> None:
    assert read_envelope(raw(event()), ENTITY_FIELDS).correlation_id == "E-1"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "EMPTY_VALUE"),
        (b"", "EMPTY_VALUE"),
        (b"not json", "NOT_JSON"),
        (b"[1, 2]", "NOT_CLOUDEVENT"),
        (raw(event(specversion="0.3")), "NOT_CLOUDEVENT"),
        (raw(event(id="")), "NOT_CLOUDEVENT"),
        (raw(event(time="2025-04-10T09:30:00")), "NOT_CLOUDEVENT"),
        (raw(event(time="yesterday")), "NOT_CLOUDEVENT"),
        (raw(event(datacontenttype="text/plain")), "NOT_CLOUDEVENT"),
        (raw(event(data="a string")), "NOT_CLOUDEVENT"),
        (raw(event(data=None)), "NOT_CLOUDEVENT"),
        (raw(event(type="tax.contribution.paid.v9")), "UNKNOWN_TYPE"),
        (raw(event(data={"declaration_id": "D-1"})), "NO_ENTITY_ID"),
        (raw(event(data={"payment_id": None})), "NO_ENTITY_ID"),
    ],
)
def test_unreadable_records_get_their_dead_letter_reason(value: bytes | None, reason: str) -> None:
    assert verdict(value) == reason


def test_a_record_over_four_mebibytes_is_too_large() -> None:
    assert verdict(b" " * (4 * 1024 * 1024 + 1)) == "TOO_LARGE"


def test_a_malformed_entity_id_is_readable_so_it_can_be_rejected_with_reasons() -> None:
    envelope = read_envelope(raw(event(data={"payment_id": ""})), ENTITY_FIELDS)
    assert envelope.entity_id == ""
    numeric = read_envelope(raw(event(data={"payment_id": 7})), ENTITY_FIELDS)
    assert numeric.entity_id == "7"


def test_unknown_extension_attributes_are_ignored() -> None:
    assert read_envelope(raw(event(partnerext="x")), ENTITY_FIELDS).id == "E-1"


def test_payload_hash_ignores_framing_but_not_content() -> None:
    first = read_envelope(raw(event()), ENTITY_FIELDS)
    republished = read_envelope(raw(event(time="2025-04-11T00:00:00Z")), ENTITY_FIELDS)
    changed = read_envelope(raw(event(data={"payment_id": "P-1", "x": 1})), ENTITY_FIELDS)
    assert first.payload_hash == republished.payload_hash != changed.payload_hash


@given(st.dictionaries(st.text(max_size=5), st.integers(-(10**17), 10**17), max_size=5))
def test_payload_hash_does_not_depend_on_key_order(data: dict[str, int]) -> None:
    reordered = dict(reversed(list(data.items())))
    assert payload_hash("t", data) == payload_hash("t", reordered)
