"""Strict JSON and the CloudEvents envelope tell readable events from dead letters exactly."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.contracts import wire
from shared.contracts.registry import ENTITY_FIELDS
from shared.contracts.wire import (
    DeadLetter,
    NotJsonError,
    encode_event,
    loads_strict,
    payload_hash,
    read_envelope,
    safe_detail,
)


@pytest.fixture(autouse=True, params=["hooks for small records", "structure for large ones"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case goes through both readers of loads_strict: their verdicts must be the same."""
    if request.param == "structure for large ones":
        monkeypatch.setattr(wire, "SMALL_RECORD_BYTES_MAX", 0)


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


@pytest.mark.parametrize(
    "text",
    [b'"\\ud800"', b'{"a": "x\\udfff"}', b'{"\\ud83d": 1}', b'["\\udc00\\ud800"]',
     b'{"a": 1, "\\u0061": 2}', b'[1, 12345678901234567890]', b'{"n": -1234567890123456789}',
     b'[{}, {"a": [{"b": 1, "b": 2}]}]', b'[' * 17 + b'[' * 16 + b']' * 33],
)
def test_lone_surrogates_duplicate_keys_long_integers_and_deep_nesting_are_not_json(
    text: bytes,
) -> None:
    with pytest.raises(NotJsonError):
        loads_strict(text)


@pytest.mark.parametrize(
    "text",
    [b'"\\ud83d\\ude00"', b'{"a": "\\\\ud800"}', b'{"a": "12345678901234567890"}',
     b'[1.2345678901234567890123]', b'[1e19]', b'{"a:b": 1, "a": {"b": 2}}',
     b'["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', b'[' * 32 + b']' * 32,
     b'[' * 20 + b'{},{},{}' + b']' * 20],
)
def test_what_only_looks_hostile_is_read(text: bytes) -> None:
    assert loads_strict(text) is not None


@pytest.mark.parametrize("depth", [17, 24, 31, 32, 33, 40])
def test_nesting_depth_is_exact_at_every_depth(depth: int) -> None:
    text = b'{"a":' * (depth - 1) + b"[]" + b"}" * (depth - 1)
    if depth <= 32:
        assert loads_strict(text) is not None
    else:
        with pytest.raises(NotJsonError):
            loads_strict(text)


def test_a_million_empty_objects_are_read_in_one_pass_of_the_c_parser() -> None:
    """No per-object Python hook: the shape of a record cannot multiply its cost."""
    text = b'{"lines": [' + b",".join([b"{}"] * 1_000_000) + b"]}"
    assert len(loads_strict(text)["lines"]) == 1_000_000


@pytest.mark.parametrize("name", ["id", "source", "type", "subject", "correlationid",
                                  "traceparent"])
@pytest.mark.parametrize("value", ["a\u0000b", "a\u001fb", "a b", "é", "x" * 257, "", 7])
def test_envelope_attributes_are_printable_ascii_of_at_most_256(name: str, value: Any) -> None:
    assert verdict(raw(event(**{name: value}))) == "NOT_CLOUDEVENT"


def test_an_envelope_attribute_of_256_printable_characters_is_readable() -> None:
    envelope = read_envelope(raw(event(id="~" * 256, traceparent="00-ab")), ENTITY_FIELDS)
    assert envelope.id == "~" * 256


def test_a_lone_surrogate_anywhere_makes_a_dead_letter_not_json() -> None:
    record = raw(event()).replace(b'"P-1"', b'"P-\\ud800"')
    assert verdict(record) == "NOT_JSON"


def test_a_malformed_entity_id_is_echoed_bounded_and_without_control_characters() -> None:
    envelope = read_envelope(raw(event(data={"payment_id": "P\u0000" + "x" * 3000})),
                             ENTITY_FIELDS)
    assert len(envelope.entity_id) == 256
    assert envelope.entity_id.startswith("P?x")


def test_a_detail_is_bounded_valid_utf8_and_printable() -> None:
    detail = safe_detail("bad \ud800 \u0000" + "y" * 1000)
    assert len(detail) <= 520
    detail.encode("utf-8")
    assert "\u0000" not in detail


@pytest.mark.parametrize("key", ["某公司", "k\u0000", "x" * 257, ""])
def test_an_outbound_subject_that_breaks_the_attribute_rule_is_left_out(key: str) -> None:
    value = encode_event(event_id="E-1", source="/collection", event_type="t.v1",
                         time="2025-04-10T09:30:00+08:00", subject=key, correlation_id="C-1",
                         data={"payment_id": "P-1"})
    assert "subject" not in json.loads(value)
    assert read_envelope(value, {"t.v1": "payment_id"}).subject is None


def test_an_outbound_subject_of_printable_ascii_is_kept() -> None:
    value = encode_event(event_id="E-1", source="/collection", event_type="t.v1",
                         time="2025-04-10T09:30:00+08:00", subject="91110000600037341L",
                         correlation_id="C-1", data={"payment_id": "P-1"})
    assert json.loads(value)["subject"] == "91110000600037341L"
