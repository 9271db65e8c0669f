"""The local stack's settings, read from its state dir, so `pension-ops` needs no setup where
`make up` ran: the same values `deploy/stack.sh env` prints (the broker's client listener and the
operator principal's credentials), from the files it reads them from.

The state dir is $PENSION_STATE_DIR, else `.state` in the repository this package was installed
from (`make venv` installs it in place). Nothing is read when the environment names a broker:
the environment always overrides.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

REPO_DIR: Final = Path(__file__).resolve().parents[2]
_CLIENT_LISTENERS: Final = ("CLIENT", "PLAINTEXT")
OPERATOR: Final = "operator"


def state_dir(environ: Mapping[str, str]) -> Path:
    configured = environ.get("PENSION_STATE_DIR")
    return Path(configured).resolve() if configured else REPO_DIR / ".state"


def _bootstrap(server_properties: Path) -> str | None:
    """The client listener's address as the broker advertises it (deploy/stack.sh writes it)."""
    try:
        lines = server_properties.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition("=")
        if name.strip() != "advertised.listeners":
            continue
        for listener in value.split(","):
            kind, _, address = listener.strip().partition("://")
            if kind in _CLIENT_LISTENERS and address:
                return address
    return None


def local_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """KEY=value settings of the local stack; empty when there is none (or KAFKA_* is set)."""
    environ = os.environ if environ is None else environ
    if environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return {}
    state = state_dir(environ)
    bootstrap = _bootstrap(state / "kafka" / "server.properties")
    if bootstrap is None:
        return {}
    settings = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    try:
        # deploy/stack.sh client-config operator: SCRAM over the loopback listener.
        password = (state / "secrets" / "kafka" / f"{OPERATOR}.password").read_text(
            encoding="ascii").strip()
    except OSError:
        return settings  # no credentials readable here: the error will say which are missing
    return {**settings, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": OPERATOR,
            "KAFKA_SASL_PASSWORD": password}


def console_password_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where `make up` keeps the console's password (deploy/stack.sh)."""
    return state_dir(os.environ if environ is None else environ) / "secrets" / "console.password"
