"""GB 32100-2015 check characters: the standard's example and codes published by their holders."""

from __future__ import annotations

import pytest

from carbonledger import uscc
from carbonledger.errors import RegistryError

# 91350100M000100Y43 is the worked example of GB 32100-2015; the others are codes printed in
# public validator test suites (e.g. 91440300708461136T, 91110108551385082Q), spanning other
# registration authorities (1x government bodies, 5x social organisations, 92 individual firms).
VALID = [
    "91350100M000100Y43",
    "91440300708461136T",
    "91110108551385082Q",
    "91110000802100433B",
    "91110105771583283D",
    "112302070019030687",
    "51610700305332460K",
    "1134082855783407XL",
    "92510100MA61WJ3204",
]


@pytest.mark.parametrize("code", VALID)
def test_published_codes_are_valid(code: str) -> None:
    uscc.validate(code)
    assert uscc.is_valid(code)
    assert uscc.check_character(code[:17]) == code[17]
    assert uscc.make_code(code[:17]) == code


def test_weights_are_powers_of_three_mod_31() -> None:
    assert uscc.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_standard_example_worked_sum() -> None:
    # The standard's worked example: the weighted sum is 1640, 1640 mod 31 = 28, 31 - 28 = 3.
    first17 = "91350100M000100Y4"
    total = sum(uscc.ALPHABET.index(c) * w for c, w in zip(first17, uscc.WEIGHTS, strict=True))
    assert total == 1640
    assert uscc.check_character(first17) == "3"


def test_check_value_31_maps_to_0() -> None:
    first17 = next(
        f"9133110200000{n:04d}"
        for n in range(10_000)
        if uscc.check_character(f"9133110200000{n:04d}") == "0"
    )
    uscc.validate(first17 + "0")


def test_wrong_length_is_rejected_with_reason() -> None:
    with pytest.raises(RegistryError, match="17 characters, a code has 18"):
        uscc.validate("91350100M000100Y4")


@pytest.mark.parametrize(
    ("code", "char", "position"),
    [
        ("91350100M000100I43", "I", 16),
        ("91350100m000100Y43", "m", 9),
        ("9135O100M000100Y43", "O", 5),
    ],
)
def test_character_outside_alphabet_is_named(code: str, char: str, position: int) -> None:
    with pytest.raises(RegistryError, match=f"character '{char}' at position {position}"):
        uscc.validate(code)


def test_wrong_check_character_says_expected_and_got() -> None:
    with pytest.raises(RegistryError, match="expected 3 got 4"):
        uscc.validate("91350100M000100Y44")


def test_single_character_errors_are_caught() -> None:
    code = "91350100M000100Y43"
    for position in range(17):
        for char in uscc.ALPHABET:
            if char != code[position]:
                assert not uscc.is_valid(code[:position] + char + code[position + 1 :])


def test_organization_code_check() -> None:
    # Positions 9-17 of a code issued from a GB 11714 organisation code keep its check digit.
    for code in VALID[:5]:
        assert uscc.organization_code_check(code[8:16]) == code[16]


def test_the_division_code_must_be_digits() -> None:
    code = uscc.make_code("91A30000727215176")
    assert code == "91A30000727215176J"  # the check character alone would pass it
    with pytest.raises(RegistryError, match=r"positions 3-8 .* must be digits, got 'A30000'"):
        uscc.validate(code)


def test_parse_drops_ascii_whitespace_around_a_code() -> None:
    assert uscc.parse(" 91350100M000100Y43\t\r\n") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("91350100M000100Y4\u00a0", r"'91350100M000100Y4\\xa0': character '\\xa0' at position 18"),
        ("\u00a091350100M000100Y43", r"'\\xa091350100M000100Y43' has 19 characters"),
        ("91350100M000100Y43\u3000", r"'91350100M000100Y43\\u3000' has 19 characters"),
        (" 91350100M000100Y4 ", r"' 91350100M000100Y4 ' has 17 characters"),
        (" 91350100M000100Y44", r"' 91350100M000100Y44' has a wrong check character"),
    ],
)
def test_parse_names_the_value_as_given(text: str, reason: str) -> None:
    with pytest.raises(RegistryError, match=reason):
        uscc.parse(text)
