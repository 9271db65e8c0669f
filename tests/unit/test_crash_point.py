"""A crash point kills its process each time it is reached, or only once with a once-file."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from shared import messaging
from shared.settings import Settings


def _settings(**values: object) -> Settings:
    return Settings(kafka_bootstrap_servers="127.0.0.1:1", database_url="postgresql://x@h/d",
                    **values)  # type: ignore[arg-type]


def _kills(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    signals: list[int] = []
    monkeypatch.setattr("shared.messaging.os.kill", lambda pid, sig: signals.append(sig))
    return signals


def test_a_crash_point_kills_every_time_it_is_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    signals = _kills(monkeypatch)
    settings = _settings(PENSION_CRASH_AT="after_fetch")
    messaging.crash_point(settings, "after_fetch")
    messaging.crash_point(settings, "mid_transaction")
    messaging.crash_point(settings, "after_fetch")
    assert signals == [signal.SIGKILL, signal.SIGKILL]


def test_a_crash_point_with_a_once_file_kills_only_the_first_process(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    signals = _kills(monkeypatch)
    once = tmp_path / "crashed"
    settings = _settings(PENSION_CRASH_AT="relay_after_send", PENSION_CRASH_ONCE_FILE=str(once))
    messaging.crash_point(settings, "relay_after_send")
    assert once.exists()
    messaging.crash_point(settings, "relay_after_send")  # the restarted process goes through
    assert signals == [signal.SIGKILL]
