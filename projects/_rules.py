"""The published rules as data: the taxonomy (``taxonomy.toml``) and the method thresholds and
screening rules (``methods.toml``), validated once, with file:line errors.

Kept out of code so that a value checked against its primary document (ASHRAE Guideline 14,
the facility's sub-category list) is corrected with its source, without a code change.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from carbonledger.errors import ConfigError
from carbonledger.tomlfile import describe, read_toml

HERE = Path(__file__).parent
T = TypeVar("T", bound=BaseModel)
METHODS = ("generation", "ipmvp_b", "ipmvp_c", "fuel_switch")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subcategory(_Strict):
    id: str
    name: str
    methods: list[str]
    verify: bool = False
    note: str | None = None


class Area(_Strict):
    id: str
    name: str
    purpose: str
    facility: bool
    subcategory: list[Subcategory]


class Taxonomy(_Strict):
    source: str
    area: list[Area]

    def find(self, purpose: str, area: str, subcategory: str) -> Subcategory | None:
        for a in self.area:
            if a.id == area and a.purpose == purpose:
                return next((s for s in a.subcategory if s.id == subcategory), None)
        return None


class BaselineThresholds(_Strict):
    cv_rmse_max: Decimal
    nmbe_max: Decimal
    r2_min: Decimal
    min_months: int
    source: str
    verify: bool = False


class Quality(_Strict):
    min_coverage: Decimal


class Screening(_Strict):
    source: str
    min_expected_annual_tco2: Decimal
    max_yuan_per_annual_tco2: Decimal
    verify: bool = False


class _Baseline(_Strict):
    monthly: BaselineThresholds


class MethodRules(_Strict):
    baseline: _Baseline
    quality: Quality
    screening: Screening

    @property
    def monthly(self) -> BaselineThresholds:
        return self.baseline.monthly

    @property
    def min_coverage(self) -> Fraction:
        return Fraction(self.quality.min_coverage)


def _load(path: Path, model: type[T]) -> T:
    text, data = read_toml(path, parse_float=Decimal)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, path, text, f"{path}: invalid")) from exc


def load_taxonomy(path: Path = HERE / "taxonomy.toml") -> Taxonomy:
    found = _load(path, Taxonomy)
    for area in found.area:
        for sub in area.subcategory:
            if unknown := set(sub.methods) - set(METHODS):
                raise ConfigError(f"{path}: {area.id}.{sub.id}: unknown methods {sorted(unknown)}")
    return found


def load_rules(path: Path = HERE / "methods.toml") -> MethodRules:
    return _load(path, MethodRules)


@cache
def taxonomy() -> Taxonomy:
    """The packaged taxonomy (read once per process)."""
    return load_taxonomy()


@cache
def rules() -> MethodRules:
    """The packaged thresholds and screening rules (read once per process)."""
    return load_rules()
