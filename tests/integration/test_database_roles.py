"""Each service's database role may touch only its own schema, append to its ledgers, not change
them, and run no DDL; the owner's migration step grants exactly that (shared/db.py).

The schemas are migrated in a fresh namespace by the owner, as `service_running` does; the
checks connect with the role and password the stack prints for the service
(`deploy/stack.sh client-config <service>`), so they prove the real grants on the real database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.collection.app import spec as collection_spec
from services.fund_transfer.app import spec as fund_transfer_spec
from services.occupational_annuity.app import spec as annuity_spec
from shared.access import DATABASE_OWNER, database_role
from shared.db import SchemaNotMigratedError
from shared.service import build_app
from tests.support import (
    client_config,
    connect_db,
    migrate_for_tests,
    new_schema_namespace,
    settings_for_tests,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stack_env")]

# The append-only ledgers and journals of services/*/migrations, each with a column to set.
LEDGERS = {"fund_transfer": (("journal", "kind"), ("entry", "account")),
           "occupational_annuity": (("entry", "sub_ledger"),)}


@pytest.fixture(scope="module")
async def ns() -> str:
    namespace = new_schema_namespace()
    for spec in (collection_spec(), fund_transfer_spec(), annuity_spec()):
        await migrate_for_tests(spec, namespace)
    return namespace


async def as_service(service: str, namespace: str) -> asyncpg.Connection:
    """A connection as the service's own role, searching its namespaced schema."""
    return await asyncpg.connect(client_config(service)["DATABASE_URL"],
                                 server_settings={"search_path": f"{service}_{namespace}"})


@pytest.fixture
async def fund_transfer(ns: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await as_service("fund_transfer", ns)
    yield conn
    await conn.close()


@pytest.fixture
async def annuity(ns: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await as_service("occupational_annuity", ns)
    yield conn
    await conn.close()


@pytest.mark.parametrize(("service", "table", "column"),
                         [(s, t, c) for s, tables in LEDGERS.items() for t, c in tables])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}",
                                       "TRUNCATE {t}"])
async def test_a_ledger_is_append_only_for_its_service(ns: str, service: str, table: str,
                                                       column: str, statement: str) -> None:
    conn = await as_service(service, ns)
    try:
        await conn.fetch(f"SELECT * FROM {table} LIMIT 1")  # reading is allowed
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement.format(t=table, c=column))
    finally:
        await conn.close()


async def test_the_service_appends_a_balanced_journal(fund_transfer: asyncpg.Connection) -> None:
    async with fund_transfer.transaction():
        await fund_transfer.execute(
            "INSERT INTO journal (journal_id, kind, reference_id, business_date)"
            " VALUES ('J-roles', 'request', 'R-roles', '2025-03-31')")
        await fund_transfer.executemany(
            "INSERT INTO entry (journal_id, line_no, account, side, amount_fen)"
            " VALUES ('J-roles', $1, $2, $3, 100)",
            [(1, "receivable:request/R-roles", "debit"), (2, "payable:request/R-roles", "credit")])
    assert await fund_transfer.fetchval(
        "SELECT count(*) FROM entry WHERE journal_id = 'J-roles'") == 2


async def test_tables_with_a_lifecycle_may_be_updated_and_nothing_else(
        fund_transfer: asyncpg.Connection, annuity: asyncpg.Connection) -> None:
    await fund_transfer.execute("UPDATE notice SET updated_at = now() WHERE false")
    await annuity.execute("DELETE FROM topup_hold WHERE false")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await fund_transfer.execute("UPDATE appropriation SET document_no = 'x' WHERE false")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await annuity.execute("DELETE FROM credit WHERE false")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await annuity.execute("INSERT INTO schema_migration (name) VALUES ('forged')")


@pytest.mark.parametrize("statement", [
    "CREATE TABLE shadow (id int)",
    "ALTER TABLE entry ADD COLUMN note text",
    "DROP TRIGGER entry_append_only ON entry",
    "ALTER TABLE entry DISABLE TRIGGER entry_append_only",
    "DROP TABLE journal",
    "CREATE TEMP TABLE scratch (id int)",
])
async def test_the_service_runs_no_ddl_and_cannot_drop_the_ledgers_triggers(
        fund_transfer: asyncpg.Connection, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await fund_transfer.execute(statement)


async def test_a_service_cannot_touch_another_services_schema(
        ns: str, fund_transfer: asyncpg.Connection) -> None:
    for statement in (f"SELECT count(*) FROM collection_{ns}.declaration",
                      f"INSERT INTO occupational_annuity_{ns}.member (person_id)"
                      " VALUES ('150102199001010019')",
                      f"SELECT count(*) FROM collection_{ns}.outbox"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await fund_transfer.execute(statement)


async def test_a_table_added_later_is_append_only_for_the_service(
        ns: str, annuity: asyncpg.Connection) -> None:
    owner = await connect_db(f"occupational_annuity_{ns}")
    try:
        await owner.execute("CREATE TABLE added_later (id int PRIMARY KEY)")
    finally:
        await owner.close()
    await annuity.execute("INSERT INTO added_later VALUES (1)")
    assert await annuity.fetchval("SELECT id FROM added_later") == 1
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await annuity.execute("UPDATE added_later SET id = 2")


async def test_service_roles_have_timeouts_and_no_role_is_a_superuser(ns: str) -> None:
    conn = await asyncpg.connect(client_config("collection")["DATABASE_URL"])
    try:
        assert await conn.fetchval("SHOW statement_timeout") == "1min"
        assert await conn.fetchval("SHOW idle_in_transaction_session_timeout") == "2min"
        assert await conn.fetchval("SHOW lock_timeout") == "10s"
        roles = await conn.fetch(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
            " WHERE rolname = ANY($1::text[])",
            [DATABASE_OWNER, *(database_role(s) for s in LEDGERS), database_role("collection")])
    finally:
        await conn.close()
    assert len(roles) == 4
    assert not any(r["rolsuper"] or r["rolcreaterole"] for r in roles)
    assert not any(r["rolcreatedb"] for r in roles if r["rolname"] != DATABASE_OWNER)


async def test_a_service_refuses_to_start_on_a_schema_that_is_not_migrated() -> None:
    namespace = new_schema_namespace()
    app, _ = build_app(collection_spec(), settings_for_tests(namespace, "collection"))
    with pytest.raises(SchemaNotMigratedError, match="migration step"):
        await app.start()
    await app.stop()
