"""No identity number reaches a log line in clear, whichever field or library logs it (I9)."""

from __future__ import annotations

import json
import logging

import pytest

from shared.logging import configure_logging, get_logger, mask_identity_numbers


def test_identity_numbers_are_masked_wherever_they_appear() -> None:
    text = "lines 150102199001010019,11010519491231002X;11010519491231002x"
    assert mask_identity_numbers(text) == (
        "lines 1501**********0019,1101**********002X;1101**********002x"
    )


def test_longer_digit_runs_and_short_numbers_are_left_alone() -> None:
    assert mask_identity_numbers("order 1234567890123456789012 amount 960.00") == (
        "order 1234567890123456789012 amount 960.00"
    )


def test_structured_log_lines_are_json_and_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_output=True)
    get_logger("test").info("declaration.checked", person="150102199001010019",
                            nested={"ids": ["152921199001010013"]})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "150102199001010019" not in line
    assert "152921199001010013" not in line
    assert json.loads(line)["person"] == "1501**********0019"


def test_library_log_records_are_masked_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_output=True)
    logging.getLogger("aiokafka").warning("record key 150102198001010014 failed")
    assert "1501**********0014" in capsys.readouterr().err
