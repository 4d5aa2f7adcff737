"""The verification workflow's vocabulary, without its database work (the CLI's choices)."""

from __future__ import annotations

from enum import StrEnum


class Conclusion(StrEnum):
    VERIFIED = "verified"
    VERIFIED_WITH_ADJUSTMENTS = "verified_with_adjustments"
    NOT_VERIFIED = "not_verified"


class Severity(StrEnum):
    OBSERVATION = "observation"
    MINOR = "minor"
    MAJOR = "major"
