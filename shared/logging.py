"""structlog set-up: JSON off a terminal, and a last processor that masks identity numbers.

The masking runs on the rendered line, so an identity number cannot reach a log through any field,
exception text or nested value.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_RESIDENT_ID = re.compile(r"(?<![0-9])([0-9]{4})[0-9]{10}([0-9]{3}[0-9Xx])(?![0-9])", re.ASCII)


def mask_identity_numbers(text: str) -> str:
    """`150102199001010019` -> `1501**********0019`, wherever it appears."""
    return _RESIDENT_ID.sub(lambda m: m.group(1) + "*" * 10 + m.group(2)[-4:], text)


def _masking_renderer(renderer: Any) -> Any:
    def render(logger: Any, method_name: str, event_dict: Any) -> str:
        return mask_identity_numbers(str(renderer(logger, method_name, event_dict)))

    return render


class _CurrentStderr:
    """Writes to whatever sys.stderr is at write time (test runners swap and close streams)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", *, json_output: bool | None = None) -> None:
    """Idempotent; JSON unless stderr is a terminal (or `json_output` says otherwise)."""
    if json_output is None:
        json_output = not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _masking_renderer(renderer),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    # Library loggers (aiokafka, asyncpg) go through the same masking on stderr.
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(_MaskingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_identity_numbers(super().format(record))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
