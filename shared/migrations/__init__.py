"""The messaging tables every service schema carries (0001_messaging.sql).

`MUTABLE_TABLES`: what a service's role may do to a table beyond SELECT and INSERT (shared/db.py
grants it at each migration); every other table is append-only for the service.
"""

from typing import Final

MUTABLE_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "outbox": ("UPDATE",),  # the relay marks rows published (and, later, set aside)
}
