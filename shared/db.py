"""asyncpg pool with limits and timeouts, one schema per service, numbered SQL migrations."""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

from shared.settings import Settings

_MIGRATION_NAME = re.compile(r"^([0-9]{4})_[a-z0-9_]+\.sql\Z")
_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}\Z")


async def create_pool(settings: Settings, schema: str, application_name: str) -> asyncpg.Pool:
    """A pool whose connections see only `schema` first and give up instead of hanging."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    pool = await asyncpg.create_pool(
        dsn=settings.database_url.get_secret_value(),
        min_size=settings.db_pool_size_min,
        max_size=settings.db_pool_size_max,
        timeout=settings.db_connect_timeout_ms / 1000,
        command_timeout=settings.db_statement_timeout_ms / 1000 + 5,
        server_settings={
            "search_path": schema,
            "application_name": application_name,
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "lock_timeout": str(settings.db_lock_timeout_ms),
            "idle_in_transaction_session_timeout": str(settings.db_statement_timeout_ms * 2),
            "timezone": "Asia/Shanghai",
        },
    )
    assert pool is not None
    return pool


def _migration_files(package: str) -> list[tuple[int, Traversable]]:
    found: list[tuple[int, Traversable]] = []
    for entry in resources.files(package).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found, key=lambda item: item[0])


async def migrate(pool: asyncpg.Pool, schema: str, packages: list[str]) -> list[str]:
    """Apply each package's numbered SQL files once, in order, under one advisory lock.

    The shared messaging tables come first (`shared.migrations`), then the service's own; the
    applied names are recorded so a second start applies nothing.
    """
    applied_now: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migration ('
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            row["name"]
            for row in await conn.fetch(f'SELECT name FROM "{schema}".schema_migration')  # noqa: S608
        }
        for package in packages:
            for _, entry in _migration_files(package):
                name = f"{package}/{entry.name}"
                if name in done:
                    continue
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                await conn.execute(entry.read_text(encoding="utf-8"))
                await conn.execute(
                    f'INSERT INTO "{schema}".schema_migration (name) VALUES ($1)',  # noqa: S608
                    name,
                )
                applied_now.append(name)
    return applied_now
