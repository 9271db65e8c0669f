"""`pension-ops` needs no setup where `make up` ran, exits 3 when status finds a problem and 130
on Ctrl-C, has --version, and shows progress only on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from shared.cli import main
from shared.cli.common import CliEnv
from shared.cli.kafka import Lag
from shared.cli.local_stack import local_settings
from shared.cli.progress import Progress, for_operator
from shared.cli.status import Health, problems_of


def _state_dir(tmp_path: Path, listeners: str) -> Path:
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "server.properties").write_text(
        "# Written by deploy/stack.sh\nprocess.roles=broker,controller\n"
        f"advertised.listeners={listeners}\n")
    return tmp_path


def test_the_local_stacks_broker_and_operator_are_read_from_its_state_dir(tmp_path: Path) -> None:
    state = _state_dir(tmp_path, "CLIENT://127.0.0.1:49092,TLS://127.0.0.1:49094,"
                                 "CONTROLLER://127.0.0.1:49093")
    (state / "secrets" / "kafka").mkdir(parents=True)
    (state / "secrets" / "kafka" / "operator.password").write_text("a" * 48 + "\n")
    environ = {"PENSION_STATE_DIR": str(state)}
    assert local_settings(environ) == {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:49092", "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": "operator",
        "KAFKA_SASL_PASSWORD": "a" * 48}
    kafka = CliEnv.from_environ(environ).kafka
    assert (kafka.kafka_bootstrap_servers, kafka.credentials()) == (
        "127.0.0.1:49092", ("operator", "a" * 48))


def test_the_environment_overrides_the_local_stack(tmp_path: Path) -> None:
    state = _state_dir(tmp_path, "CLIENT://127.0.0.1:49092")
    environ = {"PENSION_STATE_DIR": str(state), "KAFKA_BOOTSTRAP_SERVERS": "broker:9092",
               "KAFKA_SASL_USERNAME": "someone", "KAFKA_SASL_PASSWORD": "b" * 30}
    assert local_settings(environ) == {}
    assert CliEnv.from_environ(environ).kafka.credentials() == ("someone", "b" * 30)


def test_without_a_stack_the_error_says_where_it_looked(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("PENSION_STATE_DIR", str(tmp_path))
    assert main(["report", "2025-03"]) == 1
    assert f"no local stack was found in {tmp_path}" in capsys.readouterr().err


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("pension-ops 0.")


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(coroutine: object) -> None:
        coroutine.close()  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr("shared.cli.asyncio.run", interrupted)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    assert main(["status"]) == 130
    assert "interrupted" in capsys.readouterr().err


def _health(service: str, healthz: str = "up", readyz: str = "ready",
            failing: tuple[str, ...] = ()) -> Health:
    return Health(service, "http://127.0.0.1:1", healthz, readyz, failing)


def test_status_problems_are_down_unready_or_lagging_past_the_limit() -> None:
    health = [_health("collection"), _health("fund_transfer", "down", "down"),
              _health("occupational_annuity", readyz="not ready (503)",
                      failing=("consumer_running",)),
              _health("console")]
    lags = [Lag("collection", "tax.contribution.payments", 1_000, True),
            Lag("console", "annuity.ledger", 1_001, True)]
    assert problems_of(health, lags, lag_max=1_000) == [
        "fund_transfer down", "occupational_annuity not ready (503): consumer_running",
        "console lags 1001 records on annuity.ledger (more than 1000)"]
    assert problems_of([_health("collection")], lags[:1], lag_max=1_000) == []


def test_operator_progress_only_on_a_terminal_and_never_with_json() -> None:
    assert for_operator("events read", as_json=False) is None  # pytest's stderr is no terminal
    piped = io.StringIO()
    quiet = Progress("events read", 10, piped, off_terminal=False)
    quiet.advance(10)
    assert piped.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    shown = Progress("events read", 200, terminal, off_terminal=False)
    shown.advance(100)
    shown.finish()
    assert terminal.getvalue() == (
        "\r[###############               ]  50% events read 100/200"
        "\r[##############################] 100% events read 200/200\n")
