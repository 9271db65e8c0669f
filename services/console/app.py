"""Composition root of the console: its ServiceSpec for shared.service, its pages and tasks.

The read model is fed by the same layer as the services (shared/service.py builds the consumer,
the inbox and the batch transaction); the pages, the report refresher, the dead-letter copier
and the streams poller run in the same process beside it, on the service's own port.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.console import auth, domain, reports, streams
from services.console import web as pages_module
from services.console.dead_letters import DeadLetterCopier
from services.console.handlers import make_handling
from shared.cli.common import SERVICES, CliEnv
from shared.http import HealthServer
from shared.kafka_client import client_options
from shared.logging import get_logger
from shared.messaging import Handling
from shared.service import Runtime, ServiceSpec, run_service

NAME: Final = "console"
HTTP_PORT_DEFAULT: Final = 8104
log = get_logger(NAME)


class ConsoleSettings(BaseSettings):
    """The console's own settings, from `CONSOLE_*` variables; no password has a default."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", frozen=True)

    # Files of mode 600 that the local stack writes (deploy/stack.sh): the operators' password
    # and the key that signs session cookies.
    password_file: Path
    session_key_file: Path


@dataclass(slots=True)
class ConsoleContext:
    """Filled when the service starts (handler factory), read when the pages start."""

    console: ConsoleSettings | None = None
    runtime: Runtime | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def bind(self, runtime: Runtime) -> Handling:
        # Read at start-up: a missing or unsafe password file stops the start, loudly.
        self.console = ConsoleSettings()  # pyright: ignore[reportCallIssue]  # environment
        self.runtime = runtime
        prefix = f"{runtime.settings.namespace}." if runtime.settings.namespace else ""
        return make_handling(prefix)


class ConsoleServer(HealthServer):
    """The pages, /healthz, /readyz and /metrics on one port, and the console's tasks."""

    def __init__(self, context: ConsoleContext, **health: Any) -> None:
        super().__init__(**health)
        self.context = context
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        runtime, console = self.context.runtime, self.context.console
        assert runtime is not None
        assert runtime.pool is not None
        assert console is not None
        settings = runtime.settings
        sessions = auth.Sessions(auth.read_secret(console.password_file, "console password"),
                                 auth.read_secret(console.session_key_file, "session key"))
        urls = CliEnv.from_environ().service_urls
        poller = streams.StreamsPoller(
            {service: urls[service] for service in SERVICES},
            streams.service_groups(settings.schema_for, settings.topic,
                                   settings.schema_for(NAME), domain.CONSUMED_TOPICS),
            client_options(settings))
        copier = DeadLetterCopier(runtime.pool, settings, client_options(settings),
                                  settings.schema_for(NAME) + "_dlq")
        pages = pages_module.Pages(runtime.pool, sessions, auth.Limiter(), poller.view,
                                   self._route, pages_module.templates())
        self._runner = web.AppRunner(pages_module.build_app(pages), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]  # the bound one, when 0 asked for any
        for work, name in ((reports.refresh_forever(runtime.pool, settings), "reports"),
                           (copier.run(), "dead-letters"), (poller.run(), "streams")):
            task = asyncio.create_task(work, name=f"console-{name}")
            task.add_done_callback(functools.partial(_task_ended, runtime))
            self.context.tasks.append(task)
        return self.port

    async def stop(self) -> None:
        for task in self.context.tasks:
            task.cancel()
        for task in self.context.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.context.tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()


def _task_ended(runtime: Runtime, task: asyncio.Task[None]) -> None:
    """Each task retries what is transient itself; one that ends anyway is a bug, shown as an
    unhealthy service (/healthz 503) instead of pages that silently stop changing."""
    if task.cancelled():
        return
    runtime.failed = True
    error = task.exception()
    log.critical("task.failed", task=task.get_name(), error=type(error).__name__,
                 detail=str(error))


def spec() -> ServiceSpec:
    context = ConsoleContext()
    return ServiceSpec(
        name=NAME,
        topics=domain.CONSUMED_TOPICS,
        handled_types=domain.HANDLED_TYPES,
        handler_factory=context.bind,
        migrations_package="services.console.migrations",
        http_port_default=HTTP_PORT_DEFAULT,
        description=__doc__ or "",
        http_server=functools.partial(ConsoleServer, context),
    )


def main() -> None:
    run_service(spec())
