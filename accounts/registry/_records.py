"""The registry's records and the rules each one must satisfy on its own.

One pydantic model per record kind of a registry file (``[[enterprise]]``, ``[[site]]``,
``[[gateway]]``, ``[[meter]]``). Each validator's message is written for the clerk who typed the
value: it says what is wrong and what would be right. Rules that need other records (a meter's
gateway must exist and belong to the same enterprise) are in :mod:`._registry_file`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from carbonledger import divisions, uscc
from carbonledger.errors import RegistryError
from carbonledger.wire import ID_PATTERN, QUANTITIES

# NBS size classes of industrial enterprises; the Chinese terms are accepted as written on forms.
SIZE_CLASSES = {
    "large": "large",
    "medium": "medium",
    "small": "small",
    "micro": "micro",
    "大型": "large",
    "中型": "medium",
    "小型": "small",
    "微型": "micro",
}
Carrier = Literal["electricity", "natural_gas", "steam", "heat", "diesel", "pv", "flue_gas"]
Role = Literal["purchased", "exported", "own_generation", "combustion", "process", "measured"]
CARRIERS: tuple[str, ...] = get_args(Carrier)
ROLES: tuple[str, ...] = get_args(Role)
# What a CEMS stack reports: concentrations and the flue-gas state (HJ 212, HJ 75).
_CEMS = tuple(q for q in QUANTITIES if q.endswith("_concentration") or q.startswith("flue_gas_"))
# The quantities a meter of each carrier can be booked by (it may report others too).
CARRIER_QUANTITIES: dict[str, tuple[str, ...]] = {
    "electricity": ("energy_import", "energy_export", "active_power"),
    "pv": ("energy_generated", "energy_export", "active_power"),
    "natural_gas": ("gas_volume",),
    "steam": ("steam_mass", "heat"),
    "heat": ("heat",),
    "diesel": ("diesel_mass",),
    "flue_gas": _CEMS,
}
# Which roles make sense for which carriers (GB/T 32150 terms): purchased energy, exports, own
# generation, fuel burnt, process emissions, and CEMS-measured stacks.
ROLE_CARRIERS: dict[str, tuple[str, ...]] = {
    "purchased": ("electricity", "steam", "heat"),
    "exported": ("electricity", "steam", "heat", "pv"),
    "own_generation": ("pv", "electricity"),
    "combustion": ("natural_gas", "diesel"),
    "process": ("electricity", "natural_gas", "steam", "heat", "diesel"),
    "measured": ("flue_gas",),
}
_ID = re.compile(ID_PATTERN)
_INDUSTRY = re.compile(r"[0-9]{2}([0-9]{1,2})?")


def _credit_code(value: str) -> str:
    try:
        return uscc.parse(value)
    except RegistryError as exc:
        raise ValueError(str(exc)) from None


def _industry(value: str) -> str:
    if not _INDUSTRY.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a GB/T 4754-2017 code: write the 2-digit division, 3-digit group"
            " or 4-digit class, e.g. 3011 (cement)"
        )
    if not 1 <= int(value[:2]) <= 97:
        raise ValueError(f"{value!r}: GB/T 4754-2017 divisions run from 01 to 97")
    return value


def _district(value: str) -> str:
    """A county-level division of a packaged region (:mod:`carbonledger.divisions`), by name."""
    if divisions.county(value) is None:
        raise ValueError(divisions.not_a_county(value))
    return value


def _size_class(value: str) -> str:
    try:
        return SIZE_CLASSES[value]
    except KeyError:
        raise ValueError(
            f"{value!r} is not a size class: large, medium, small or micro (大型/中型/小型/微型)"
        ) from None


def _identifier(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an id: 1-64 letters, digits and . _ : - (starting with a letter"
            " or digit)"
        )
    return value


def _quantity(value: str) -> str:
    if value not in QUANTITIES:
        raise ValueError(f"{value!r} is not a quantity of wire format v1: {', '.join(QUANTITIES)}")
    return value


def _text(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


CreditCode = Annotated[str, AfterValidator(_credit_code)]
Identifier = Annotated[str, BeforeValidator(_text), AfterValidator(_identifier)]
Name = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=200)]
Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnterpriseRecord(_Record):
    """An enterprise under carbon-account supervision (domain.md §6)."""

    code: CreditCode
    name: Name
    industry_code: Annotated[str, BeforeValidator(_text), AfterValidator(_industry)]
    district: Annotated[str, BeforeValidator(_text), AfterValidator(_district)]
    size_class: Annotated[str, BeforeValidator(_text), AfterValidator(_size_class)] | None = None


class SiteRecord(_Record):
    """A plant or premises of an enterprise; meters may be grouped by site."""

    id: Identifier
    enterprise: CreditCode
    name: Name
    address: Annotated[str, BeforeValidator(_text), Field(max_length=500)] | None = None


class GatewayRecord(_Record):
    """An edge gateway that publishes an enterprise's readings (credentials: ``broker``)."""

    id: Identifier
    enterprise: CreditCode


class MeterRecord(_Record):
    """A metered point: what it measures, in which unit, and how its register is booked."""

    id: Identifier
    enterprise: CreditCode
    gateway: Identifier
    site: Identifier | None = None
    carrier: Carrier
    quantity: Annotated[str, BeforeValidator(_text), AfterValidator(_quantity)]
    unit: Annotated[str, BeforeValidator(_text)] | None = None
    multiplier: Positive = Decimal(1)
    register_max: Positive | None = None
    max_rate: Positive | None = None
    role: Role | None = None
    source: Name | None = None

    def problems(self) -> dict[str, str]:
        """Field -> problem for the rules that tie this meter's fields together."""
        found: dict[str, str] = {}
        allowed = CARRIER_QUANTITIES[self.carrier]
        if self.quantity not in allowed:
            found["quantity"] = (
                f"a {self.carrier} meter is booked by {' or '.join(allowed)}, not {self.quantity}"
            )
        canonical = QUANTITIES[self.quantity].unit
        if self.unit is not None and self.unit != canonical:
            found["unit"] = f"{self.quantity} is reported in {canonical}, not {self.unit!r}"
        if self.role is not None and self.carrier not in ROLE_CARRIERS[self.role]:
            found["role"] = (
                f"role {self.role} applies to {', '.join(ROLE_CARRIERS[self.role])} meters,"
                f" not {self.carrier}"
            )
        cumulative = QUANTITIES[self.quantity].kind == "cumulative"
        if self.register_max is not None and not cumulative:
            found["register_max"] = f"{self.quantity} is not a cumulative register"
        return found

    @property
    def booked_unit(self) -> str:
        return QUANTITIES[self.quantity].unit
