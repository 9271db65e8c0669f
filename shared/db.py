"""asyncpg pool with limits and timeouts, one schema per service, numbered SQL migrations.

Migrations run as the database owner, in a step of their own before a service starts
(`python -m services.<name> migrate`); they end by granting the service's login role what it
needs on its own schema and nothing else (README, "Security model"). The service itself runs as
that role and refuses to start on a schema whose migrations are not all applied.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from typing import cast

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


class SchemaNotMigratedError(RuntimeError):
    """The service's schema lacks migrations: the owner's migration step has not run."""


def migration_names(packages: Sequence[str]) -> list[str]:
    return [f"{package}/{entry.name}" for package in packages
            for _, entry in _migration_files(package)]


async def check_migrated(conn: asyncpg.Connection, schema: str, packages: Sequence[str]) -> None:
    """Raise SchemaNotMigratedError unless every migration of `packages` is applied in `schema`."""
    if await conn.fetchval("SELECT to_regclass($1)", f'"{schema}".schema_migration') is None:
        missing = migration_names(packages)
    else:
        done = {row["name"] for row in await conn.fetch(
            f'SELECT name FROM "{schema}".schema_migration')}  # noqa: S608
        missing = [name for name in migration_names(packages) if name not in done]
    if missing:
        raise SchemaNotMigratedError(
            f"schema {schema} lacks {', '.join(missing)}: run the migration step as the database "
            "owner first (python -m services.<name> migrate, which deploy/services.sh runs)")


def mutable_tables(packages: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each package's MUTABLE_TABLES (its __init__): privileges beyond SELECT and INSERT."""
    tables: dict[str, tuple[str, ...]] = {}
    for package in packages:
        tables.update(getattr(importlib.import_module(package), "MUTABLE_TABLES", {}))
    return tables


_PRIVILEGE = re.compile(r"\A(UPDATE|DELETE)\Z")


async def grant_runtime(conn: asyncpg.Connection, schema: str, role: str,
                        mutable: Mapping[str, tuple[str, ...]]) -> None:
    """What the service's role may do in its schema, reset to exactly this on every migration.

    USAGE on the schema (no CREATE: no DDL); SELECT and INSERT on every table, also on tables
    created later (default privileges), so append-only is the default; UPDATE or DELETE only on
    the tables named in MUTABLE_TABLES; never TRUNCATE, never ownership, so the owner's
    triggers (append-only ledgers, balanced journals) stay out of its reach.
    """
    if not _SCHEMA_NAME.match(role):
        raise ValueError(f"bad role name {role!r}")
    await conn.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM "{role}"')
    await conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
    await conn.execute(f'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    await conn.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" '
                       f'GRANT SELECT, INSERT ON TABLES TO "{role}"')
    # The bookkeeping of migrations is read to check them, never written by the service.
    await conn.execute(f'REVOKE INSERT ON "{schema}".schema_migration FROM "{role}"')
    for table, privileges in sorted(mutable.items()):
        if not _SCHEMA_NAME.match(table) or not all(_PRIVILEGE.match(p) for p in privileges):
            raise ValueError(f"bad MUTABLE_TABLES entry {table!r}: {privileges!r}")
        await conn.execute(f'GRANT {", ".join(privileges)} ON "{schema}"."{table}" TO "{role}"')


async def migrate(pool: asyncpg.Pool, schema: str, packages: list[str],
                  runtime_role: str | None = None) -> list[str]:
    """Apply each package's numbered SQL files once, in order, under one advisory lock, then
    grant `runtime_role` its rights on the schema (when given), in the same transaction.

    The shared messaging tables come first (`shared.migrations`), then the service's own; the
    applied names are recorded so a second run applies nothing.
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
        if runtime_role is not None:
            await grant_runtime(cast(asyncpg.Connection, conn), schema, runtime_role,
                                mutable_tables(packages))
    return applied_now
