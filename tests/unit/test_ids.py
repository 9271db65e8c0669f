"""Credit codes and identity numbers are checked in strict ASCII and masked; our ids are stable."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ids import (
    ENTITY_ID_PATTERN,
    NAMESPACE,
    RESIDENT_ID_PATTERN,
    USCC_ALPHABET,
    backcredit_request_id,
    mask_resident_id,
    notice_id_for_appropriation,
    notice_id_for_request,
    notional_funding_id,
    remittance_id,
    resident_id_problem,
    topup_assessment_id,
    uscc_is_valid,
)

VALID_USCCS = [
    "91110000600037341L",
    "91350100M000100Y43",
    "91110108551385082Q",
    "11150000011512968L",
]
VALID_RESIDENT_IDS = [
    "11010519491231002X",
    "150102199001010019",
    "152921199001010013",
    "150102198001010014",
]
DECLARED_ON = date(2025, 3, 12)
ID_CHECK_CHARS = "0123456789X"
# Replacement characters for mutations: ASCII, the excluded USCC letters, lower case and
# look-alikes (full-width digits, Cyrillic Х, zero-width space, Arabic-Indic digits).
MUTATION_CHARS = USCC_ALPHABET + "IOSVZxabl -\u200b\u0425\uff10\uff11\u0661"


def with_resident_check_char(first_17: str) -> str:
    """Test-only: complete 17 digits with the GB 11643 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first_17, weights, strict=True))
    return first_17 + "10X98765432"[total % 11]


def replace_at(text: str, index: int, char: str) -> str:
    return text[:index] + char + text[index + 1 :]


@pytest.mark.parametrize("code", VALID_USCCS)
def test_published_credit_codes_are_valid(code: str) -> None:
    assert uscc_is_valid(code)


@given(
    st.sampled_from(VALID_USCCS),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(MUTATION_CHARS),
)
def test_changing_any_one_character_of_a_credit_code_makes_it_invalid(
    code: str, index: int, char: str
) -> None:
    # Every weight is non-zero mod the prime 31, so any substitution moves the checksum.
    mutated = replace_at(code, index, char)
    if mutated != code:
        assert not uscc_is_valid(mutated)


@pytest.mark.parametrize("letter", "IOSVZ")
def test_credit_codes_never_contain_i_o_s_v_or_z(letter: str) -> None:
    assert not uscc_is_valid(replace_at("91350100M000100Y43", 8, letter))


@pytest.mark.parametrize(
    "text",
    [
        "91350100m000100y43",  # lower case
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",  # 19 characters
        " 91350100M000100Y43",
        "91350100M000100Y43\n",
        "９1350100M000100Y43",  # full-width digit
        "",
    ],
)
def test_credit_codes_in_lower_case_or_with_extra_characters_are_invalid(text: str) -> None:
    assert not uscc_is_valid(text)


@pytest.mark.parametrize("index", range(2, 8))
def test_credit_code_division_code_is_digits_only(index: int) -> None:
    # "A" is a legal alphabet character, but not inside the division code at positions 3-8.
    prefix = replace_at("91110000600037341", index, "A")
    completions = [prefix + c for c in USCC_ALPHABET]
    assert not any(uscc_is_valid(code) for code in completions)


@given(
    st.text(alphabet=USCC_ALPHABET, min_size=2, max_size=2),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9),
)
def test_exactly_one_check_character_completes_any_credit_code(
    kind: str, division: str, organisation: str
) -> None:
    prefix = kind + division + organisation
    assert sum(uscc_is_valid(prefix + c) for c in USCC_ALPHABET) == 1


@pytest.mark.parametrize("number", VALID_RESIDENT_IDS)
def test_published_identity_numbers_are_valid(number: str) -> None:
    assert resident_id_problem(number, not_after=DECLARED_ON) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("15010219900101001", "length"),
        ("1501021990010100199", "length"),
        ("1501021990\u200b01010019", "length"),  # zero-width space inserted
        ("150102199001\u200b10019", "characters"),  # zero-width space replacing a digit
        ("11010519491231002x", "characters"),  # lower-case x
        ("11010519491231002\u0425", "characters"),  # Cyrillic Х
        ("１50102199001010019", "characters"),  # full-width digit
        ("1501021990010100X9", "characters"),  # X only as the check character
        (with_resident_check_char("15010219900230001"), "birth date"),  # 30 February
        (with_resident_check_char("15010219901301001"), "birth date"),  # month 13
        (with_resident_check_char("15010200000101001"), "birth date"),  # year 0
        ("150102199001010018", "check character"),
        ("11010519491231002" + "9", "check character"),
    ],
)
def test_identity_numbers_name_the_first_check_they_fail(text: str, problem: str) -> None:
    assert resident_id_problem(text, not_after=DECLARED_ON) == problem


def test_a_person_cannot_be_born_after_the_declaration() -> None:
    number = "150102199001010019"
    assert resident_id_problem(number, not_after=date(1989, 12, 31)) == (
        "birth date after declaration"
    )
    assert resident_id_problem(number, not_after=date(1990, 1, 1)) is None


def test_an_address_code_that_does_not_exist_is_not_a_hard_failure() -> None:
    number = with_resident_check_char("999999" + "19900101" + "001")
    assert resident_id_problem(number, not_after=DECLARED_ON) is None


@given(
    st.sampled_from(VALID_RESIDENT_IDS),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(ID_CHECK_CHARS + "x\u0425\uff10\u200b A"),
)
def test_changing_any_one_character_of_an_identity_number_makes_it_invalid(
    number: str, index: int, char: str
) -> None:
    # Each weight is 1..10, non-zero mod the prime 11, and a digit change is 1..9, so changing
    # one digit always moves the checksum: even a change that keeps a real birth date fails.
    mutated = replace_at(number, index, char)
    if mutated != number:
        assert resident_id_problem(mutated, not_after=DECLARED_ON) is not None


@given(
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=date(1900, 1, 1), max_value=DECLARED_ON),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
)
def test_exactly_one_check_character_completes_any_identity_number(
    address: str, birth_date: date, sequence: str
) -> None:
    first_17 = address + birth_date.strftime("%Y%m%d") + sequence
    completions = [first_17 + c for c in ID_CHECK_CHARS]
    valid = [n for n in completions if resident_id_problem(n, not_after=DECLARED_ON) is None]
    assert len(valid) == 1


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("150102199001010019", "1501**********0019"),
        ("11010519491231002X", "1101**********002X"),
        ("1501021990", "**********"),
        ("", ""),
    ],
)
def test_identity_numbers_are_masked_to_four_characters_at_each_end(text: str, masked: str) -> None:
    assert mask_resident_id(text) == masked


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("person_id=150102199001010019 paid", ["150102199001010019"]),
        ('{"person_id": "11010519491231002x"}', ["11010519491231002x"]),
        ("a150102199001010019b", ["150102199001010019"]),
        ("150102199001010019,152921199001010013", ["150102199001010019", "152921199001010013"]),
        ("1150102199001010019", []),  # 19 digits: no boundary before
        ("1501021990010100191", []),  # 19 digits: no boundary after
        ("15010219900101001", []),  # 17 digits
    ],
)
def test_identity_numbers_are_found_inside_free_text(text: str, found: list[str]) -> None:
    assert RESIDENT_ID_PATTERN.findall(text) == found


def test_masking_every_found_identity_number_leaves_none_in_clear() -> None:
    line = "declaration D-1 lines 150102199001010019 and 11010519491231002X rejected"
    masked = RESIDENT_ID_PATTERN.sub(lambda m: mask_resident_id(m.group()), line)
    assert masked == "declaration D-1 lines 1501**********0019 and 1101**********002X rejected"


def test_notice_ids_match_the_contract_example() -> None:
    assert notice_id_for_appropriation("A-150200-2025-Q1-01", 0) == (
        "d0196bb2-2cbc-5166-97c9-44fcac754bd5"
    )


def test_deterministic_ids_are_uuid5_of_the_documented_names() -> None:
    def expected(name: str) -> str:
        return str(uuid.uuid5(NAMESPACE, name))

    assert notice_id_for_request("R-1", 2) == expected("notice/request/R-1/2")
    assert remittance_id("150100", "2025-03", 1) == expected("remittance/150100/2025-03/1")
    assert topup_assessment_id("150200", "2019-06", 0) == expected("topup/150200/2019-06/0")
    assert uuid.UUID(remittance_id("150100", "2025-03", 0)).version == 5
    assert notional_funding_id("150200", "retirement", "R-2025-7") == expected(
        "funding/150200/retirement/R-2025-7")
    assert notional_funding_id("150200", "command", "ops-1") == expected(
        "funding/150200/command/ops-1")
    assert backcredit_request_id("150300", "B-9") == expected("backcredit/150300/B-9")


@pytest.mark.parametrize(("entity", "cause", "cause_id"), [
    ("15020", "retirement", "R-1"), ("150200", "death", "R-1"), ("150200", "command", ""),
    ("150200", "command", "a b")])
def test_funding_ids_refuse_what_the_contract_cannot_name(
        entity: str, cause: str, cause_id: str) -> None:
    with pytest.raises(ValueError):
        notional_funding_id(entity, cause, cause_id)


@given(st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True), st.integers(0, 1000))
def test_each_attempt_gets_its_own_stable_notice_id(appropriation_id: str, attempt: int) -> None:
    first = notice_id_for_appropriation(appropriation_id, attempt)
    assert first == notice_id_for_appropriation(appropriation_id, attempt)
    assert first != notice_id_for_appropriation(appropriation_id, attempt + 1)
    assert first != notice_id_for_request(appropriation_id, attempt)


@pytest.mark.parametrize("counter", [-1, True])
def test_id_counters_must_be_non_negative_ints(counter: int) -> None:
    with pytest.raises(ValueError):
        notice_id_for_appropriation("A-1", counter)
    with pytest.raises(ValueError):
        remittance_id("150100", "2025-03", counter)


@pytest.mark.parametrize(("code", "period"), [("15010", "2025-03"), ("150100", "2025-3")])
def test_id_names_refuse_near_miss_spellings(code: str, period: str) -> None:
    with pytest.raises(ValueError):
        topup_assessment_id(code, period, 0)


@pytest.mark.parametrize(
    "entity_id", ["A-150200-2025-Q1-01", "D-150100-2025-03-000123", "a.b_c:d-e", "x" * 64, "0"]
)
def test_entity_ids_of_ascii_letters_digits_and_punctuation_are_accepted(entity_id: str) -> None:
    assert ENTITY_ID_PATTERN.match(entity_id)


@pytest.mark.parametrize(
    "entity_id", ["", "x" * 65, "A B", "A/B", "A-1\n", "Ａ-1", "é", "A\u200b1", "A+1"]
)
def test_entity_ids_that_break_the_contract_are_refused(entity_id: str) -> None:
    assert ENTITY_ID_PATTERN.match(entity_id) is None


@given(st.text(min_size=1, max_size=70))
def test_entity_id_pattern_agrees_with_the_contract_on_any_text(text: str) -> None:
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
    expected = len(text) <= 64 and set(text) <= allowed
    assert (ENTITY_ID_PATTERN.match(text) is not None) == expected
