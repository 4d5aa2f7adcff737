"""A project as declared and as stored: plain, validated values (no database).

A declaration holds together by itself (its method's parameters, the roles of its meters);
whether it fits the taxonomy and the registry is checked when it is declared
(:mod:`projects.library`) and screened.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
CODE_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{18}$"


class Stage(StrEnum):
    DECLARED = "declared"
    SCREENED = "screened"
    ADMITTED = "admitted"  # in the library (入库)
    RETIRED = "retired"


class Method(StrEnum):
    GENERATION = "generation"
    IPMVP_B = "ipmvp_b"  # retrofit isolation, the retrofit's own meters
    IPMVP_C = "ipmvp_c"  # whole facility, the main meters
    FUEL_SWITCH = "fuel_switch"


class MeterRole(StrEnum):
    GENERATION = "generation"
    OWN_USE = "own_use"
    MEASURED = "measured"
    AFFECTED = "affected"


ROLES_OF: dict[Method, tuple[frozenset[MeterRole], frozenset[MeterRole]]] = {
    # (roles required at least once, roles allowed)
    Method.GENERATION: (
        frozenset({MeterRole.GENERATION}),
        frozenset({MeterRole.GENERATION, MeterRole.OWN_USE}),
    ),
    Method.IPMVP_B: (frozenset({MeterRole.MEASURED}), frozenset({MeterRole.MEASURED})),
    Method.IPMVP_C: (frozenset({MeterRole.MEASURED}), frozenset({MeterRole.MEASURED})),
    Method.FUEL_SWITCH: (frozenset({MeterRole.AFFECTED}), frozenset({MeterRole.AFFECTED})),
}


class MethodParams(BaseModel):
    """What the method names: the grid factor series (generation and electricity savings), the
    baseline period and its driver (IPMVP, fuel switching)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grid_region: Literal["national", "zhejiang", "east_china"] = "zhejiang"
    grid_series: Literal["average", "excluding_market_non_fossil", "fossil_only"] = "average"
    baseline_from: date | None = Field(None, description="first month of the baseline")
    baseline_to: date | None = Field(None, description="last month of the baseline")
    driver: Literal["production", "degree_days", "none"] = "none"

    @model_validator(mode="after")
    def _months(self) -> MethodParams:
        for name in ("baseline_from", "baseline_to"):
            value = getattr(self, name)
            if value is not None and value.day != 1:
                raise ValueError(f"{name} must be the first day of a month")
        if (self.baseline_from is None) != (self.baseline_to is None):
            raise ValueError("baseline_from and baseline_to go together")
        if self.baseline_from and self.baseline_to and self.baseline_to < self.baseline_from:
            raise ValueError("baseline_to is before baseline_from")
        return self


class Declaration(BaseModel):
    """What an enterprise declares (气候投融资项目申报)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    owner_code: str = Field(pattern=CODE_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    purpose: Literal["mitigation", "adaptation"]
    area: str = Field(min_length=1, max_length=64)
    subcategory: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=200)
    total_investment_yuan: Decimal = Field(gt=0)
    start_of_operation: date
    expected_annual_tco2: Decimal = Field(ge=0)
    method: Method
    params: MethodParams = Field(default_factory=MethodParams)
    meters: dict[str, MeterRole] = Field(min_length=1, description="meter id -> its role")

    @model_validator(mode="after")
    def _coherent(self) -> Declaration:
        required, allowed = ROLES_OF[self.method]
        roles = set(self.meters.values())
        if missing := required - roles:
            raise ValueError(
                f"method {self.method.value} needs a meter of role {sorted(missing)[0].value}"
            )
        if extra := roles - allowed:
            raise ValueError(
                f"method {self.method.value} does not use meters of role {sorted(extra)[0].value}"
            )
        needs_baseline = self.method is not Method.GENERATION
        if needs_baseline and self.params.baseline_from is None:
            raise ValueError(f"method {self.method.value} needs baseline_from and baseline_to")
        if self.method is Method.FUEL_SWITCH and self.params.driver != "none":
            raise ValueError("fuel_switch takes no driver (its baseline is a rate per hour)")
        return self


class Project(Declaration):
    """A project in the library, with its stage."""

    stage: Stage
    declared_at: datetime
    updated_at: datetime


class Transition(BaseModel):
    """One logged action on a project."""

    id: int
    action: Literal["declare", "screen", "admit", "retire"]
    from_stage: Stage | None
    to_stage: Stage
    passed: bool
    criteria: list[dict[str, object]] | None
    by_role: Literal["enterprise", "bureau", "admin"]
    by_name: str
    at: datetime
    note: str | None
