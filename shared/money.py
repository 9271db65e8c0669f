"""Money is integer fen in code; yuan strings exist only at the wire edge (CONTRACTS.md).

No float anywhere: rates are integer basis points and split weights are int or Fraction, so every
figure is exact until the single, explicit half-up rounding to the fen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

FEN_PER_YUAN = 100
YUAN_DIGITS_MAX = 12
AMOUNT_FEN_MAX = 10 ** (YUAN_DIGITS_MAX + 2) - 1  # 999999999999.99 yuan
BASIS_POINTS_PER_UNIT = 10_000
# Social Insurance Law art. 86: 0.05% of the arrears per day = 5 basis points per day.
LATE_FEE_BASIS_POINTS_PER_DAY = 5

# Explicit [0-9] classes and re.ASCII: `\d`, int() and Decimal() all accept full-width and other
# Unicode digits, which the wire format forbids. fullmatch() so a trailing newline cannot slip in.
_YUAN_PATTERN = re.compile(r"(0|[1-9][0-9]{0,11})\.([0-9]{2})", re.ASCII)
_ECHO_CHARS_MAX = 40  # a rejected value can be huge; echo only its start in the message


class MoneyFormatError(ValueError):
    """A money value that is not a wire yuan string (maps to AMOUNT_INVALID)."""


def parse_yuan(text: str) -> int:
    """Parse a wire yuan string such as "6523.00" into fen; raise MoneyFormatError otherwise."""
    if not isinstance(text, str):  # money as a JSON number must be rejected, not coerced
        raise MoneyFormatError(f"money must be a yuan string, not {type(text).__name__}")
    match = _YUAN_PATTERN.fullmatch(text)
    if match is None:
        raise MoneyFormatError(
            "money must be yuan with exactly two decimals, ASCII digits, no sign, separators "
            f"or leading zeros, at most {YUAN_DIGITS_MAX} integer digits: "
            f"{text[:_ECHO_CHARS_MAX]!r}"
        )
    yuan_digits, fen_digits = match.groups()
    return int(yuan_digits) * FEN_PER_YUAN + int(fen_digits)  # both are checked ASCII here


def format_yuan(amount_fen: int) -> str:
    """Format fen as a wire yuan string; the inverse of parse_yuan."""
    _require_int(amount_fen, "amount_fen")
    if not 0 <= amount_fen <= AMOUNT_FEN_MAX:
        raise ValueError(f"amount_fen must be in 0..{AMOUNT_FEN_MAX}, got {amount_fen}")
    yuan, fen = divmod(amount_fen, FEN_PER_YUAN)
    return f"{yuan}.{fen:02d}"


def round_half_up_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up (0.5 -> 1), in exact integer arithmetic."""
    _require_int(numerator, "numerator")
    _require_int(denominator, "denominator")
    if numerator < 0 or denominator <= 0:
        # Half-up on negatives is ambiguous (away from zero or towards +inf); money here never is.
        raise ValueError(f"need numerator >= 0 and denominator > 0, got {numerator}/{denominator}")
    return (2 * numerator + denominator) // (2 * denominator)


def amount_for_rate(base_fen: int, rate_basis_points: int) -> int:
    """base x rate rounded half up to the fen; 16% is 1600 basis points."""
    _require_non_negative(base_fen, "base_fen")
    _require_non_negative(rate_basis_points, "rate_basis_points")
    return round_half_up_div(base_fen * rate_basis_points, BASIS_POINTS_PER_UNIT)


def late_fee_fen(amount_fen: int, days: int) -> int:
    """Simple late fee of 0.05% per day on amount_fen, rounded half up to the fen."""
    _require_non_negative(amount_fen, "amount_fen")
    _require_non_negative(days, "days")
    numerator = amount_fen * LATE_FEE_BASIS_POINTS_PER_DAY * days
    return round_half_up_div(numerator, BASIS_POINTS_PER_UNIT)


def split_fen(total_fen: int, weights: Sequence[int | Fraction]) -> list[int]:
    """Largest-remainder split; ties go to the lower index. sum(result) == total_fen.

    Each part is the floor or the ceiling of its exact share total_fen * w / sum(weights).
    """
    _require_non_negative(total_fen, "total_fen")
    weight_total = _weight_total(weights)
    shares = [Fraction(total_fen) * weight / weight_total for weight in weights]
    parts = [share.numerator // share.denominator for share in shares]
    leftover_fen = total_fen - sum(parts)
    # Sort key (-remainder, index): the largest remainders first, the lower index on a tie.
    by_remainder = sorted(range(len(parts)), key=lambda i: (parts[i] - shares[i], i))
    for index in by_remainder[:leftover_fen]:
        parts[index] += 1
    assert sum(parts) == total_fen, (total_fen, parts)
    return parts


def _weight_total(weights: Sequence[int | Fraction]) -> Fraction:
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, int | Fraction):
            raise TypeError(f"weights must be int or Fraction, got {type(weight).__name__}")
        if weight < 0:
            raise ValueError(f"weights must be non-negative, got {weight}")
    weight_total = Fraction(sum(weights))
    if weight_total == 0:
        raise ValueError("cannot split by weights that are all zero (or by no weights)")
    return weight_total


def _require_int(value: int, name: str) -> None:
    # bool is an int subclass: True fen is a bug upstream, not one fen.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def _require_non_negative(value: int, name: str) -> None:
    _require_int(value, name)
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
