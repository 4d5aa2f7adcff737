"""Unified social credit codes (统一社会信用代码, GB 32100-2015): the check character.

Every enterprise in the registry is identified by its 18-character code, and the platform must
reject invalid ones (domain.md §6): a mistyped code would open a second carbon account for the same
legal person, or book one company's emissions to another. The 18th character is a weighted
modulus-31 check over the first 17, which catches every single-character error and nearly every
transposition, so checking it at the door stops most typing mistakes before they reach a ledger.

Layout (GB 32100-2015 §4):

====  =====================================================================
pos   meaning
====  =====================================================================
1     registration authority (9 = market regulation, i.e. companies)
2     organisation type (1 = enterprise)
3–8   administrative division of the registering authority (GB/T 2260)
9–17  subject identifier (the former organisation code, GB 11714)
18    check character
====  =====================================================================

The alphabet is the digits and the capitals without I, O, S, V, Z (which read like 1, 0, 5, U, 2);
a character's value is its index in :data:`ALPHABET`. The weight of position *i* is 3^(i-1) mod 31,
and the check character has value ``(31 - Σ value × weight mod 31) mod 31``.
"""

from __future__ import annotations

import string

from carbonledger.errors import RegistryError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
LENGTH = 18
# W_i = 3^(i-1) mod 31 for i = 1..17 (the standard's Table 4).
WEIGHTS = tuple(pow(3, i, 31) for i in range(LENGTH - 1))
_VALUE = {char: value for value, char in enumerate(ALPHABET)}
DIVISION = slice(2, 8)  # positions 3-8: the administrative division code, digits only

assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # noqa: S101
assert len(ALPHABET) == 31  # noqa: S101


def check_character(first17: str) -> str:
    """The check character (position 18) for the first 17 characters of a code.

    Raises :class:`RegistryError` when ``first17`` is not 17 characters of the code's alphabet,
    since a check character computed over garbage would make the garbage look valid.
    """
    if len(first17) != LENGTH - 1:
        raise RegistryError(
            f"the first part of a credit code has {LENGTH - 1} characters, got {len(first17)}"
        )
    _check_alphabet(first17, first17)
    total = sum(_VALUE[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def parse(text: str) -> str:
    """The code in ``text`` without surrounding ASCII whitespace, or :class:`RegistryError`.

    This is the one rule for codes that people type or paste (import files, the command line):
    spaces, tabs and line ends around a code are dropped, since a code never contains them. Any
    other character is kept and refused, including U+00A0 (no-break space) and full-width spaces
    pasted from documents, because stripping those would accept a code nobody can see is wrong.
    Every error names ``text`` as given, repr'd so that invisible characters show.
    """
    code = text.strip(string.whitespace)
    _validate(code, text)
    return code


def validate(code: str) -> None:
    """Raise :class:`RegistryError` saying what is wrong with ``code``, or return if it is valid.

    The reason names the problem precisely (length, the offending character and its 1-based
    position, digits where the division code belongs, or the expected and actual check character)
    so that the person who typed the code can fix it without reading the standard. Nothing is
    stripped: input from people goes through :func:`parse`.
    """
    _validate(code, code)


def _validate(code: str, given: str) -> None:
    """Check ``code``; every message names ``given``, the value before whitespace was stripped."""
    if len(code) != LENGTH:
        raise RegistryError(
            f"credit code {given!r} has {len(code)} characters, a code has {LENGTH}"
        )
    _check_alphabet(code, given)
    division = code[DIVISION]
    if not division.isdigit():
        raise RegistryError(
            f"credit code {given!r}: positions 3-8 are the administrative division code"
            f" (GB/T 2260) and must be digits, got {division!r}"
        )
    expected = check_character(code[:-1])
    if code[-1] != expected:
        raise RegistryError(
            f"credit code {given!r} has a wrong check character: expected {expected} got {code[-1]}"
        )


def is_valid(code: str) -> bool:
    """True when ``code`` is a valid 18-character credit code (a predicate for filters)."""
    try:
        validate(code)
    except RegistryError:
        return False
    return True


def make_code(first17: str) -> str:
    """A complete code: ``first17`` followed by its check character (the simulator's codes)."""
    return first17 + check_character(first17)


# GB 11714-1997 organisation codes (positions 9-17 of a credit code): 8 characters and a mod-11
# check character; letters count 10-35. Credit codes issued from an old organisation code keep
# that code whole, so the simulator makes both checks hold, as real codes do.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_VALUE = {char: value for value, char in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def organization_code_check(first8: str) -> str:
    """The GB 11714 check character (9th) of an organisation code: a digit or ``X``."""
    if len(first8) != 8 or any(char not in _ORG_VALUE for char in first8):
        raise RegistryError(f"organisation code body {first8!r} is not 8 digits or capitals")
    total = sum(_ORG_VALUE[c] * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _check_alphabet(text: str, given: str) -> None:
    for position, char in enumerate(text, start=1):
        if char not in _VALUE:
            hint = " (lower case)" if char.upper() in _VALUE else ""
            raise RegistryError(
                f"credit code {given!r}: character {char!r} at"
                f" position {position} is not in the GB 32100 alphabet {ALPHABET}{hint}"
            )
