"""Apply the security model of shared/access.py to a broker: SCRAM users and ACLs.

Run by deploy/stack.sh with the project venv's Python, as the broker's super user (the KAFKA_*
variables, as for every client). Passwords are read from files, one per principal, never from
arguments or the environment of this process, and never printed.

    python deploy/access.py principals                  the SCRAM users, one a line
    python deploy/access.py roles                       the services' database roles, one a line
    python deploy/access.py apply --secrets DIR         upsert every user from DIR/<user>.password,
                                                        create the missing ACLs
    python deploy/access.py acls [--namespace NS]       print the ACL table

Exit status: 0 done, 1 failed, 2 broker not reachable before the deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from aiokafka.errors import KafkaError
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file by stack.sh

from shared.access import ADMIN, PRINCIPALS, RUNS_WITH_A_ROLE, acls, database_role
from shared.kafka_admin import (
    AdminRequestError,
    connect_admin,
    create_acls,
    describe_acls,
    upsert_scram_users,
)
from shared.kafka_client import KafkaAccess


def say(message: str) -> None:
    print(f"stack: {message}", flush=True)


def read_passwords(directory: Path) -> dict[str, str]:
    passwords = {}
    for principal in (ADMIN, *PRINCIPALS):
        path = directory / f"{principal}.password"
        if path.stat().st_mode & 0o077:
            raise SystemExit(f"stack: {path} is readable by others: chmod 600 it")
        passwords[principal] = path.read_text(encoding="ascii").strip()
        if len(passwords[principal]) < 24:
            raise SystemExit(f"stack: {path} holds no password of at least 24 characters")
    return passwords


async def apply(access: KafkaAccess, secrets: Path, deadline: float) -> int:
    passwords = read_passwords(secrets)
    admin = await connect_admin(access, deadline)
    try:
        # The admin user came with the storage format (KIP-900); upserting it again would
        # change the broker's own inter-broker credential under it.
        await upsert_scram_users(admin, {p: passwords[p] for p in PRINCIPALS})
        missing = set(acls()) - await describe_acls(admin)
        await create_acls(admin, missing)
    finally:
        await admin.close()
    say(f"{len(PRINCIPALS)} SCRAM users set, {len(missing)} ACL(s) created "
        f"({len(acls())} in the model)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("command", choices=["principals", "roles", "apply", "acls"])
    parser.add_argument("--secrets", type=Path, help="directory of <principal>.password files")
    parser.add_argument("--namespace", default="")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds, overall")
    args = parser.parse_args(argv)
    if args.command == "principals":
        print("\n".join(PRINCIPALS))
        return 0
    if args.command == "roles":
        print("\n".join(database_role(name) for name in RUNS_WITH_A_ROLE))
        return 0
    if args.command == "acls":
        for rule in acls(args.namespace):
            print(f"User:{rule.principal:<22} {rule.operation:<9} {rule.resource_type:<6} "
                  f"{rule.pattern:<9} {rule.resource}")
        return 0
    if args.secrets is None:
        parser.error("apply needs --secrets DIR")
    logging.basicConfig(level=logging.CRITICAL)  # aiokafka logs refusals while a broker starts
    try:
        access = KafkaAccess()  # pyright: ignore[reportCallIssue]  # from the environment
        return asyncio.run(apply(access, args.secrets, time.monotonic() + args.timeout))
    except ValidationError as error:
        print(f"stack: Kafka settings: {error}", file=sys.stderr)
        return 1
    except TimeoutError as exc:
        print(f"stack: Kafka did not answer within {args.timeout:g} s ({exc})", file=sys.stderr)
        return 2
    except (KafkaError, AdminRequestError, OSError) as exc:
        print(f"stack: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
