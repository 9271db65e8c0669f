"""`pension-ops`: the operator's command line for pension-streams.

Commands: status, wait-idle, dlq (list | show | replay), report, trace, check-deadlines,
notional-interest, annuity-funding. Settings come from the environment: KAFKA_BOOTSTRAP_SERVERS,
NAMESPACE (optional topic prefix, as the services use it) and PENSION_<SERVICE>_URL for health
checks; without KAFKA_BOOTSTRAP_SERVERS, the local stack's own (shared/cli/local_stack.py).

Exit codes: 0 success, 2 usage error, 1 failure (with one line on stderr), 3 `status` found a
problem, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import sys
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from shared.cli import commands, dlq, report, status, trace
from shared.cli.common import CliEnv, CliError, UsageError
from shared.logging import configure_logging

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pension-ops",
        description="Operate pension-streams: health and lag, dead letters, monthly report, "
                    "declaration trace, deadline checks.",
        epilog="Environment: KAFKA_BOOTSTRAP_SERVERS (default: the local stack's, read from "
               "its state dir, .state or PENSION_STATE_DIR), NAMESPACE (topic prefix '<ns>.'), "
               "PENSION_COLLECTION_URL, PENSION_FUND_TRANSFER_URL, "
               "PENSION_OCCUPATIONAL_ANNUITY_URL, PENSION_CONSOLE_URL (default "
               "http://127.0.0.1:8101..8104).",
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {importlib.metadata.version('pension-streams')}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (status, dlq, report, trace, commands):
        module.register(subcommands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (the console script passes it to sys.exit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (2): return it, do not raise
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    try:
        env = CliEnv.from_environ()
        configure_logging()
        return asyncio.run(args.run(args, env))  # type: ignore[no-any-return]
    except BrokenPipeError:  # `pension-ops report 2025-03 | head`: the reader left, stay quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"pension-ops: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (CliError, KafkaError, OSError, TimeoutError) as error:
        print(f"pension-ops: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("\npension-ops: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if isinstance(error, CliError) else f"{type(error).__name__}: {text}"
