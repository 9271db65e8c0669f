"""Builders of valid tax bureau events with random ids, for the unit and end-to-end tests."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from shared.ids import (
    RESIDENT_ID_CHECK_CHARS,
    RESIDENT_ID_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
)
from shared.money import amount_for_rate, format_yuan, parse_yuan

RATES_BP = {
    "enterprise_basic": (1600, 800),
    "institution_basic": (1600, 800),
    "occupational_annuity": (800, 400),
}
_rng = random.Random()  # ids only; no test depends on which ids come out


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def uscc() -> str:
    """A random unified social credit code with a correct check character."""
    body = "91" + "".join(_rng.choice("0123456789") for _ in range(6))
    body += "".join(_rng.choice(USCC_ALPHABET) for _ in range(9))
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def person_id(born: dt.date | None = None) -> str:
    """A random resident identity number with a correct check character."""
    born = born or dt.date(1960, 1, 1) + dt.timedelta(days=_rng.randrange(14_000))
    body = "150102" + born.strftime("%Y%m%d") + f"{_rng.randrange(1000):03d}"
    total = sum(int(c) * w for c, w in zip(body, RESIDENT_ID_WEIGHTS, strict=True))
    return body + RESIDENT_ID_CHECK_CHARS[total % 11]


def line(line_no: int, base: str = "6000.00", scheme: str = "enterprise_basic",
         **overrides: Any) -> dict[str, Any]:
    employer_bp, employee_bp = RATES_BP[scheme]
    base_fen = parse_yuan(base)
    value: dict[str, Any] = {
        "line_no": line_no,
        "person_id": person_id(),
        "person_name": "张三",
        "base": base,
        "employer_amount": format_yuan(amount_for_rate(base_fen, employer_bp)),
        "employee_amount": format_yuan(amount_for_rate(base_fen, employee_bp)),
    }
    return value | overrides


def declaration(*, bases: tuple[str, ...] = ("6000.00",), scheme: str = "enterprise_basic",
                **overrides: Any) -> dict[str, Any]:
    """A valid 2025-03 declaration (due 2025-03-20) with one line per base."""
    value: dict[str, Any] = {
        "declaration_id": new_id("D"),
        "revision": 0,
        "employer_uscc": uscc(),
        "employer_name": "呼和浩特某某有限公司",
        "region_code": "150102",
        "scheme": scheme,
        "fee_period": "2025-03",
        "unit_funding": "self" if scheme == "occupational_annuity" else None,
        "declared_on": "2025-03-12",
        "lines": [line(i, base, scheme) for i, base in enumerate(bases, start=1)],
    }
    people: set[str] = set()
    for entry in value["lines"]:  # distinct people, so a long declaration is still valid
        while entry["person_id"] in people:
            entry["person_id"] = person_id()
        people.add(entry["person_id"])
    return value | overrides


def payment(declaration_id: str, amount_paid: str, paid_on: str = "2025-03-18",
            **overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "payment_id": new_id("P"),
        "declaration_id": declaration_id,
        "e_tax_voucher_no": "315150025000012345",
        "amount_paid": amount_paid,
        "paid_on": paid_on,
    }
    return value | overrides


def enterprise_annuity(*, employer: tuple[str, ...] = ("800.00",),
                       employee: tuple[str, ...] | None = None, payroll: str = "20000.00",
                       **overrides: Any) -> dict[str, Any]:
    """A valid 2025-03 enterprise annuity filing, one line per employer amount."""
    employee = employee or tuple("0.00" for _ in employer)
    value: dict[str, Any] = {
        "declaration_id": new_id("EA"),
        "revision": 0,
        "employer_uscc": uscc(),
        "employer_name": "包头某某有限公司",
        "region_code": "150203",
        "fee_period": "2025-03",
        "declared_on": "2025-03-12",
        "payroll_total": payroll,
        "backfill": False,
        "lines": [
            {"line_no": n, "person_id": person_id(), "person_name": "李四",
             "employer_amount": employer_amount, "employee_amount": employee_amount}
            for n, (employer_amount, employee_amount) in enumerate(
                zip(employer, employee, strict=True), start=1)
        ],
    }
    return value | overrides
