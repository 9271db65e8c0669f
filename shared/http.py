"""A tiny HTTP endpoint for /healthz, /readyz and /metrics on 127.0.0.1.

Three GET routes do not justify a web framework in every service; requests are size- and
time-limited so a stuck client cannot hold the process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

REQUEST_BYTES_MAX: Final = 8192
REQUEST_TIMEOUT_S: Final = 5.0

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]
Details = Callable[[], dict[str, int | float]]
"""Figures shown with the readiness verdict (`pension-ops status` prints them)."""


class HealthServer:
    def __init__(self, *, host: str, port: int, registry: CollectorRegistry, ready: ReadyCheck,
                 alive: Callable[[], bool], details: Details = dict) -> None:
        self.host = host
        self.port = port
        self.registry = registry
        self.ready = ready
        self.alive = alive
        self.details = details
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
            parts = head.split(b" ", 2)
            path = parts[1].decode("ascii", "replace") if len(parts) > 1 else "/"
            status, content_type, body = (
                await self._route(path) if len(head) <= REQUEST_BYTES_MAX
                else (431, "text/plain", b"request too large\n")
            )
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, content_type, body = 400, "text/plain", b"bad request\n"
        writer.write(
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'ERROR'}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode() + body
        )
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _route(self, path: str) -> tuple[int, str, bytes]:
        if path == "/healthz":
            alive = self.alive()
            return (200 if alive else 503), "application/json", json.dumps(
                {"alive": alive}).encode()
        if path == "/readyz":
            try:
                checks = await asyncio.wait_for(self.ready(), REQUEST_TIMEOUT_S)
            except TimeoutError:
                checks = {"timeout": False}
            ok = all(checks.values())
            return (200 if ok else 503), "application/json", json.dumps(
                {"ready": ok, "checks": checks, "details": self.details()}).encode()
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        return 404, "text/plain", b"not found\n"
