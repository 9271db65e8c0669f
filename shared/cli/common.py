"""What every command shares: settings from the environment, argument types, output helpers."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from shared import access
from shared.cli.local_stack import local_settings, state_dir
from shared.kafka_client import KafkaAccess, MissingCredentialsError
from shared.money import format_yuan

SERVICES: Final = tuple(access.SERVICES)
CONSOLE: Final = "console"
_DEFAULT_URLS: Final = {
    "collection": "http://127.0.0.1:8101",
    "fund_transfer": "http://127.0.0.1:8102",
    "occupational_annuity": "http://127.0.0.1:8103",
    CONSOLE: "http://127.0.0.1:8104",
}
# The same rule as shared/settings.py `Settings.namespace`.
_NAMESPACE_PATTERN: Final = re.compile(r"\A([a-z][a-z0-9]{0,20})?\Z", re.ASCII)
_PERIOD_PATTERN: Final = re.compile(r"\A[0-9]{4}-(0[1-9]|1[0-2])\Z", re.ASCII)
_DATE_PATTERN: Final = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z", re.ASCII)
_POSITION_PATTERN: Final = re.compile(r"\A([0-9]{1,9}):([0-9]{1,18})\Z", re.ASCII)


class CliError(Exception):
    """A failure the operator can act on; main() prints it as one line and exits 1."""


class UsageError(CliError):
    """Arguments that parse but do not make sense together; main() exits 2."""


@dataclass(frozen=True, slots=True)
class CliEnv:
    """Settings of the operator tool: the environment's, else the local stack's (local_stack.py).

    `service_urls` also names the console (`PENSION_CONSOLE_URL`)."""

    kafka_access: KafkaAccess | None
    namespace: str
    service_urls: Mapping[str, str]

    @staticmethod
    def from_environ(environ: Mapping[str, str] | None = None) -> CliEnv:
        environ = os.environ if environ is None else environ
        environ = {**local_settings(environ), **environ}
        namespace = environ.get("NAMESPACE", "")
        if not _NAMESPACE_PATTERN.match(namespace):
            raise CliError(f"NAMESPACE must match [a-z][a-z0-9]{{0,20}}, got {namespace!r}")
        urls = {
            service: environ.get(f"PENSION_{service.upper()}_URL") or default
            for service, default in _DEFAULT_URLS.items()
        }
        access = None
        if environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            try:
                access = KafkaAccess.from_mapping(environ)
            except ValidationError as error:
                raise CliError(f"Kafka settings: {error}") from error
        return CliEnv(access, namespace, urls)

    @property
    def kafka(self) -> KafkaAccess:
        """The operator's principal: every command connects as it, and replays name it."""
        if self.kafka_access is None:
            raise CliError("KAFKA_BOOTSTRAP_SERVERS is not set and no local stack was found in "
                           f"{state_dir(os.environ)} (run `make up` there, or set "
                           "PENSION_STATE_DIR or KAFKA_BOOTSTRAP_SERVERS)")
        try:
            self.kafka_access.credentials()
        except MissingCredentialsError as error:
            raise CliError(str(error)) from error
        return self.kafka_access

    def topic(self, name: str) -> str:
        """Exactly `Settings.topic()`: "<namespace>.<name>", or the bare name without one."""
        return f"{self.namespace}.{name}" if self.namespace else name

    def base_topic(self, full_name: str) -> str:
        prefix = f"{self.namespace}." if self.namespace else ""
        return full_name.removeprefix(prefix)

    def group(self, service: str) -> str:
        """Exactly `Settings.schema_for()`, which services use as their consumer group."""
        return f"{service}_{self.namespace}" if self.namespace else service


# ---- argument types (argparse turns their ArgumentTypeError into exit code 2) ----------------


def period_arg(text: str) -> str:
    if not _PERIOD_PATTERN.match(text):
        raise argparse.ArgumentTypeError(f"period must be YYYY-MM, got {text!r}")
    return text


def date_arg(text: str) -> str:
    if not _DATE_PATTERN.match(text):
        raise argparse.ArgumentTypeError(f"date must be YYYY-MM-DD, got {text!r}")
    try:
        dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a real date: {text!r}") from error
    return text


def position_arg(text: str) -> tuple[int, int]:
    match = _POSITION_PATTERN.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"position must be PARTITION:OFFSET, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def positive_seconds(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= 86_400:
        raise argparse.ArgumentTypeError(f"seconds must be an integer 1..86400, got {text!r}")
    return int(text)


# ---- output ------------------------------------------------------------------------------------


def yuan(amount_fen: int) -> str:
    """Yuan with two decimals; a negative figure (never expected) keeps its sign, visibly."""
    return format_yuan(amount_fen) if amount_fen >= 0 else "-" + format_yuan(-amount_fen)


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False))


def _width(text: str) -> int:
    # Chinese names take two terminal columns per character.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                 right: Sequence[int] = ()) -> str:
    """A plain-text table; columns whose index is in `right` are right-aligned (numbers)."""
    widths = [_width(h) for h in headers]
    for row in rows:
        widths = [max(w, _width(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            (" " * (w - _width(c)) + c) if i in right else (c + " " * (w - _width(c)))
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths).rstrip()
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def warn(message: str) -> None:
    print(f"pension-ops: {message}", file=sys.stderr)
