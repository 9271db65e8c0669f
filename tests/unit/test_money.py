"""Money stays exact integer fen: strict wire strings, half-up rates and fees, splits that sum."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from shared.money import (
    AMOUNT_FEN_MAX,
    MoneyFormatError,
    amount_for_rate,
    format_yuan,
    late_fee_fen,
    parse_yuan,
    round_half_up_div,
    split_fen,
)

ASCII_DIGITS = "0123456789"


def is_wire_money(text: str) -> bool:
    """An independent reading of CONTRACTS.md's money rule, written without regular expressions."""
    yuan, dot, fen = text.partition(".")
    return (
        dot == "."
        and len(fen) == 2
        and all(c in ASCII_DIGITS for c in fen)
        and 1 <= len(yuan) <= 12
        and all(c in ASCII_DIGITS for c in yuan)
        and (yuan == "0" or yuan[0] != "0")
    )


@pytest.mark.parametrize(
    ("text", "amount_fen"),
    [
        ("0.00", 0),
        ("0.50", 50),
        ("0.05", 5),
        ("1.00", 100),
        ("6523.00", 652_300),
        ("12500000.00", 1_250_000_000),
        ("999999999999.99", 99_999_999_999_999),
    ],
)
def test_wire_yuan_strings_parse_to_exact_fen(text: str, amount_fen: int) -> None:
    assert parse_yuan(text) == amount_fen


@pytest.mark.parametrize(
    "text",
    [
        "-1.00",  # negative
        "+1.00",  # sign
        "1,000.00",  # separator
        "1 000.00",
        "1.000",  # three decimals
        "1.0",  # one decimal
        "1",  # no decimals
        "1.",
        ".50",
        "0100.00",  # leading zero
        "00.50",
        "1000000000000.00",  # 13 integer digits
        "１００.００",  # full-width digits
        "1００.00",
        "١٠٠.٠٠",  # Arabic-Indic digits
        "1.0０",
        " 1.00",
        "1.00 ",
        "1.00\n",  # `$` would accept this
        "1\u200b.00",  # zero-width space
        "",
        "1e3",
        "NaN",
        "Infinity",
        "1_000.00",
    ],
)
def test_malformed_money_strings_are_rejected(text: str) -> None:
    with pytest.raises(MoneyFormatError):
        parse_yuan(text)


@pytest.mark.parametrize("value", [100, 1.5, None, True, b"1.00", Decimal("1.00")])
def test_money_that_is_not_a_string_is_rejected(value: object) -> None:
    with pytest.raises(MoneyFormatError, match="must be a yuan string"):
        parse_yuan(value)  # type: ignore[arg-type]


def test_money_format_error_is_a_value_error_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="exactly two decimals"):
        parse_yuan("1.000")


@given(st.integers(min_value=0, max_value=AMOUNT_FEN_MAX))
def test_formatting_then_parsing_returns_the_same_fen(amount_fen: int) -> None:
    assert parse_yuan(format_yuan(amount_fen)) == amount_fen


@given(st.from_regex(r"(0|[1-9][0-9]{0,11})\.[0-9]{2}", fullmatch=True))
def test_parsing_then_formatting_returns_the_same_wire_string(text: str) -> None:
    assert format_yuan(parse_yuan(text)) == text


@given(st.text(alphabet="0123456789.-,+ ０１９\u0661x", max_size=16))
def test_parser_accepts_exactly_the_strings_the_contract_allows(text: str) -> None:
    if is_wire_money(text):
        assert format_yuan(parse_yuan(text)) == text
    else:
        with pytest.raises(MoneyFormatError):
            parse_yuan(text)


@pytest.mark.parametrize(("amount_fen", "text"), [(0, "0.00"), (5, "0.05"), (50, "0.50")])
def test_small_amounts_format_with_a_single_leading_zero(amount_fen: int, text: str) -> None:
    assert format_yuan(amount_fen) == text


@pytest.mark.parametrize("amount_fen", [-1, AMOUNT_FEN_MAX + 1])
def test_formatting_refuses_negative_or_thirteen_digit_amounts(amount_fen: int) -> None:
    with pytest.raises(ValueError):
        format_yuan(amount_fen)


@pytest.mark.parametrize("amount_fen", [True, 1.5, "100"])
def test_formatting_refuses_values_that_are_not_plain_ints(amount_fen: object) -> None:
    with pytest.raises(TypeError):
        format_yuan(amount_fen)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("numerator", "denominator", "quotient"),
    [(0, 7, 0), (4, 10, 0), (5, 10, 1), (14, 10, 1), (15, 10, 2), (25, 10, 3), (9_999, 10_000, 1)],
)
def test_division_rounds_exact_halves_up(numerator: int, denominator: int, quotient: int) -> None:
    assert round_half_up_div(numerator, denominator) == quotient


@given(st.integers(min_value=0, max_value=10**30), st.integers(min_value=1, max_value=10**9))
def test_division_equals_the_exact_quotient_plus_a_half_floored(
    numerator: int, denominator: int
) -> None:
    exact = Fraction(numerator, denominator)
    assert round_half_up_div(numerator, denominator) == int(exact + Fraction(1, 2))


@pytest.mark.parametrize(("numerator", "denominator"), [(-1, 10), (1, 0), (1, -10)])
def test_division_refuses_negative_numerators_and_non_positive_denominators(
    numerator: int, denominator: int
) -> None:
    with pytest.raises(ValueError):
        round_half_up_div(numerator, denominator)


@pytest.mark.parametrize(
    ("base_fen", "rate_basis_points", "amount_fen"),
    [
        (490_700, 1600, 78_512),  # floor 4,907.00 x 16% = 785.12
        (490_700, 800, 39_256),
        (600_000, 1600, 96_000),
        (600_000, 800, 48_000),
        (2_453_700, 1600, 392_592),  # cap 24,537.00
        (2_453_700, 800, 196_296),
        (490_700, 400, 19_628),  # occupational annuity individual 4%
        (1, 5000, 1),  # half a fen rounds up
        (1, 4999, 0),
    ],
)
def test_contribution_is_base_times_rate_rounded_half_up_to_the_fen(
    base_fen: int, rate_basis_points: int, amount_fen: int
) -> None:
    assert amount_for_rate(base_fen, rate_basis_points) == amount_fen


def test_rates_are_basis_points_not_floats() -> None:
    with pytest.raises(TypeError):
        amount_for_rate(490_700, 0.16)  # type: ignore[arg-type]


def test_late_payment_owes_five_ten_thousandths_per_day() -> None:
    # 10,000.00 due 2025-03-20, paid 2025-04-10: 21 days -> 105.00
    assert late_fee_fen(1_000_000, 21) == 10_500


@pytest.mark.parametrize(
    ("amount_fen", "days", "fee_fen"),
    [(1_000_000, 0, 0), (1_000_000, 1, 500), (1, 1000, 1), (1, 999, 0), (0, 365, 0)],
)
def test_late_fee_is_simple_and_rounds_half_up(amount_fen: int, days: int, fee_fen: int) -> None:
    assert late_fee_fen(amount_fen, days) == fee_fen


@pytest.mark.parametrize(("amount_fen", "days"), [(-1, 1), (1, -1)])
def test_late_fee_refuses_negative_amounts_and_days(amount_fen: int, days: int) -> None:
    with pytest.raises(ValueError):
        late_fee_fen(amount_fen, days)


@pytest.mark.parametrize(
    ("total_fen", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (1, [1, 1], [1, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        (10, [0, 1, 0], [0, 10, 0]),
        (10, [Fraction(1, 3), Fraction(2, 3)], [3, 7]),
        (0, [1, 2], [0, 0]),
        (7, [5], [7]),
        (101, [1, 2, 2], [20, 41, 40]),  # 20.2, 40.4, 40.4: the tie goes to index 1
    ],
)
def test_split_gives_each_leftover_fen_to_the_largest_remainder(
    total_fen: int, weights: list[int | Fraction], parts: list[int]
) -> None:
    assert split_fen(total_fen, weights) == parts


@pytest.mark.parametrize("weights", [[], [0], [0, 0, 0], [Fraction(0), 0]])
def test_split_by_no_weight_at_all_is_refused(weights: list[int | Fraction]) -> None:
    with pytest.raises(ValueError, match="all zero"):
        split_fen(100, weights)


def test_split_refuses_negative_weights_and_totals() -> None:
    with pytest.raises(ValueError):
        split_fen(100, [2, -1])
    with pytest.raises(ValueError):
        split_fen(-100, [1, 1])


@pytest.mark.parametrize("weights", [[0.5, 0.5], [True, 1], ["1", 1], [Decimal(1), 1]])
def test_split_refuses_float_and_other_inexact_weights(weights: list[object]) -> None:
    with pytest.raises(TypeError):
        split_fen(100, weights)  # type: ignore[arg-type]


weight_values = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.fractions(min_value=0, max_value=1000, max_denominator=10**6),
)


@given(
    st.integers(min_value=0, max_value=10**12),
    st.lists(weight_values, min_size=1, max_size=30),
)
def test_split_parts_sum_to_the_total_and_round_the_exact_share(
    total_fen: int, weights: list[int | Fraction]
) -> None:
    assume(sum(weights) > 0)
    parts = split_fen(total_fen, weights)
    assert sum(parts) == total_fen
    weight_total = Fraction(sum(weights))
    for part, weight in zip(parts, weights, strict=True):
        exact = total_fen * Fraction(weight) / weight_total
        assert part in {math.floor(exact), math.ceil(exact)}
        if weight == 0:
            assert part == 0


@given(
    st.integers(min_value=0, max_value=10**6),
    st.lists(weight_values, min_size=1, max_size=30),
)
def test_split_rounds_up_larger_remainders_first_and_lower_indexes_on_a_tie(
    total_fen: int, weights: list[int | Fraction]
) -> None:
    assume(sum(weights) > 0)
    parts = split_fen(total_fen, weights)
    weight_total = Fraction(sum(weights))
    exact = [total_fen * Fraction(w) / weight_total for w in weights]
    remainders = [share - math.floor(share) for share in exact]
    rounded_up = [i for i, part in enumerate(parts) if part > exact[i]]
    rounded_down = [i for i, part in enumerate(parts) if part < exact[i]]
    for up in rounded_up:
        for down in rounded_down:
            assert (-remainders[up], up) < (-remainders[down], down)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=50))
def test_equal_weights_give_the_extra_fen_to_the_lowest_indexes(
    total_fen: int, member_count: int
) -> None:
    parts = split_fen(total_fen, [1] * member_count)
    base, extra = divmod(total_fen, member_count)
    assert parts == [base + 1] * extra + [base] * (member_count - extra)
