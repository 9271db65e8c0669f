"""Identifier checks (DOMAIN.md "Identifiers") and deterministic ids (CONTRACTS.md).

Every character class is spelled out in ASCII: `\\d`, str.isdigit() and int() accept full-width and
other Unicode digits, and upper()/lower() fold look-alikes, so none of them is used on input here.
"""

from __future__ import annotations

import operator
import re
import uuid
from datetime import date

_ASCII_DIGITS = frozenset("0123456789")

# GB 32100-2015 unified social credit code: 31 characters, no I O S V Z; value = index.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_LENGTH = 18
_USCC_VALUES = {char: value for value, char in enumerate(USCC_ALPHABET)}
_USCC_CHARS = frozenset(USCC_ALPHABET)
_USCC_MODULUS = len(USCC_ALPHABET)

# GB 11643-1999 citizen identity number (also the social security number).
RESIDENT_ID_LENGTH = 18
RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK_CHARS = "10X98765432"
_RESIDENT_ID_MODULUS = 11
_RESIDENT_ID_ZERO_OFFSET = ord("0") * sum(RESIDENT_ID_WEIGHTS)
_MASK_KEPT_CHARS = 4  # kept at each end, so an operator can still tell two people apart

# Finds what looks like an identity number in free text, for the log-masking processor. Lower-case
# x is matched on purpose: masking must be broader than validation.
RESIDENT_ID_PATTERN = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])", re.ASCII)

# CONTRACTS.md entity ids. \A..\Z rather than ^..$: `$` also matches before a trailing newline.
ENTITY_ID_PATTERN = re.compile(r"\A[A-Za-z0-9._:\-]{1,64}\Z", re.ASCII)

NAMESPACE = uuid.UUID("bcc1a308-40cd-5a83-947e-cbbb42310156")
_FISCAL_ENTITY_CODE_PATTERN = re.compile(r"\A[0-9]{6}\Z", re.ASCII)
_FEE_PERIOD_PATTERN = re.compile(r"\A[0-9]{4}-(0[1-9]|1[0-2])\Z", re.ASCII)


def uscc_is_valid(text: str) -> bool:
    """True when text is an 18-character unified social credit code with a correct check char."""
    if not isinstance(text, str) or len(text) != USCC_LENGTH:
        return False
    if not _USCC_CHARS.issuperset(text):
        return False
    if not _is_ascii_digits(text[2:8]):  # the division code
        return False
    # map() rather than a generator: this runs once per declaration on the ingest hot path.
    weighted_sum = sum(map(operator.mul, map(_USCC_VALUES.__getitem__, text[:-1]), USCC_WEIGHTS))
    expected = USCC_ALPHABET[(_USCC_MODULUS - weighted_sum % _USCC_MODULUS) % _USCC_MODULUS]
    return text[-1] == expected


def resident_id_problem(text: str, *, not_after: date) -> str | None:
    """None for a valid identity number, else a short reason naming the first failed check.

    The address code is deliberately not checked: codes are renamed and people re-registered, so
    a code that did not exist in the birth year is still a real person's number.
    """
    if not isinstance(text, str) or len(text) != RESIDENT_ID_LENGTH:
        return "length"
    if not _is_ascii_digits(text[:-1]) or text[-1] not in "0123456789X":
        return "characters"
    birth_date = _birth_date(text[6:14])
    if birth_date is None:
        return "birth date"
    if birth_date > not_after:
        return "birth date after declaration"
    if text[-1] != _resident_id_check_char(text[:-1]):
        return "check character"
    return None


def mask_resident_id(text: str) -> str:
    """Keep four characters at each end of an identity number; mask anything shorter entirely."""
    if len(text) < RESIDENT_ID_LENGTH:
        return "*" * len(text)
    kept = _MASK_KEPT_CHARS
    return text[:kept] + "*" * (len(text) - 2 * kept) + text[-kept:]


def notice_id_for_appropriation(appropriation_id: str, attempt: int) -> str:
    """Id of a subsidy transfer notice; attempt 0 is the first notice, 1 its first replacement."""
    _require_counter(attempt, "attempt")
    return _uuid5(f"notice/appropriation/{appropriation_id}/{attempt}")


def notice_id_for_request(request_id: str, attempt: int) -> str:
    """Id of a transfer notice issued for a transfer request."""
    _require_counter(attempt, "attempt")
    return _uuid5(f"notice/request/{request_id}/{attempt}")


def remittance_id(fiscal_entity_code: str, fee_period: str, sequence: int) -> str:
    """Id of an annuity remittance; sequence 0 is the first, 1 the first supplementary one."""
    _require_entity_and_period(fiscal_entity_code, fee_period)
    _require_counter(sequence, "sequence")
    return _uuid5(f"remittance/{fiscal_entity_code}/{fee_period}/{sequence}")


def topup_assessment_id(fiscal_entity_code: str, fee_period: str, sequence: int) -> str:
    """Id of an interest top-up assessment (and of its funding request)."""
    _require_entity_and_period(fiscal_entity_code, fee_period)
    _require_counter(sequence, "sequence")
    return _uuid5(f"topup/{fiscal_entity_code}/{fee_period}/{sequence}")


def notional_funding_id(fiscal_entity_code: str, cause: str, cause_id: str) -> str:
    """Id of a 做实 funding (and of its transfer request); `cause` is `retirement` or `command`,
    `cause_id` the retirement_id or command_id, so a replay funds under the same id."""
    if not _FISCAL_ENTITY_CODE_PATTERN.match(fiscal_entity_code):
        raise ValueError(f"fiscal_entity_code must be 6 ASCII digits, got {fiscal_entity_code!r}")
    if cause not in ("retirement", "command"):
        raise ValueError(f"cause must be retirement or command, got {cause!r}")
    _require_entity_id(cause_id)
    return _uuid5(f"funding/{fiscal_entity_code}/{cause}/{cause_id}")


def backcredit_request_id(fiscal_entity_code: str, backcredit_id: str) -> str:
    """Id of the transfer request that funds a back-credit (补记)."""
    if not _FISCAL_ENTITY_CODE_PATTERN.match(fiscal_entity_code):
        raise ValueError(f"fiscal_entity_code must be 6 ASCII digits, got {fiscal_entity_code!r}")
    _require_entity_id(backcredit_id)
    return _uuid5(f"backcredit/{fiscal_entity_code}/{backcredit_id}")


def assessment_id(service: str, fiscal_entity_code: str, period: str, command_id: str) -> str:
    """Id of one service's part of a league/city's assessment (考核) for a period, per command."""
    _require_entity_and_period(fiscal_entity_code, period)
    _require_entity_id(command_id)
    return _uuid5(f"assessment/{service}/{fiscal_entity_code}/{period}/{command_id}")


def _require_entity_id(value: str) -> None:
    if not isinstance(value, str) or not ENTITY_ID_PATTERN.match(value):
        raise ValueError(f"not an entity id: {value!r}")


def _birth_date(yyyymmdd: str) -> date | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return None


def _is_ascii_digits(text: str) -> bool:
    # isdigit() alone accepts full-width and other scripts' digits; on ASCII text it means 0-9.
    return text.isascii() and text.isdigit()


def _resident_id_check_char(first_17: str) -> str:
    # Runs once per declaration line on the ingest hot path, so it multiplies the ASCII codes
    # (callers have checked the digits) and subtracts what the code of "0" added to each one.
    weighted_sum = sum(map(operator.mul, first_17.encode("ascii"), RESIDENT_ID_WEIGHTS))
    weighted_sum -= _RESIDENT_ID_ZERO_OFFSET
    return RESIDENT_ID_CHECK_CHARS[weighted_sum % _RESIDENT_ID_MODULUS]


def _uuid5(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


def _require_counter(value: int, name: str) -> None:
    # f"{True}" is "True": a bool would silently mint a different, never-repeated id.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")


def _require_entity_and_period(fiscal_entity_code: str, fee_period: str) -> None:
    # A near-miss spelling ("2025-3") would mint a different id and break replay determinism.
    if not _FISCAL_ENTITY_CODE_PATTERN.match(fiscal_entity_code):
        raise ValueError(f"fiscal_entity_code must be 6 ASCII digits, got {fiscal_entity_code!r}")
    if not _FEE_PERIOD_PATTERN.match(fee_period):
        raise ValueError(f"fee_period must be YYYY-MM, got {fee_period!r}")
