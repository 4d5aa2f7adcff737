"""Which factors an account month uses: the policy (``[accounts]`` settings) over the library.

- Electricity (purchased, exported, own generation): the grid factor of ``accounts.region`` and
  ``accounts.grid_series`` of the latest data year not after the month's year, among those
  published by the day of computation (``as_of``); of an id, its highest version so published.
- Fuels: the default NCV set of the enterprise's industry guideline (``guideline_by_division``,
  general otherwise), valid on the month's first day; a measured NCV of the enterprise replaces
  the default NCV for emissions and tce.
- Steam: (enthalpy - 83.74 kJ/kg) x 10^-3 GJ/t x 0.11 tCO2/GJ; heat: 0.11 tCO2/GJ.
- tce: GB/T 2589 coefficients (each entry names its edition); electricity 当量值 and the 等价值
  of the latest year not after the month's year.

Every value is an exact :class:`~fractions.Fraction` per activity unit (kWh, Nm3, t, GJ).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from pydantic import BaseModel, ConfigDict

from accounts.ledger._units import GJ_PER_TCE, NCV_PER_UNIT, TCE_PER_UNIT, fuel_tco2_per_unit
from carbonledger.config import AccountsSettings
from carbonledger.errors import AccountsError

ELECTRIC = ("electricity", "pv")
FUELS = ("natural_gas", "diesel")


class FactorRef(BaseModel):
    """A library factor as an account line cites it."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: int
    value: Decimal
    unit: str
    source: str
    document: str
    data_year: int | None = None
    published: date
    region: str
    verify: bool = False

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


@dataclass(frozen=True)
class Factor:
    """A row of the ``factors`` table."""

    id: str
    version: int
    kind: str
    subject: str
    series: str
    value: Decimal
    unit: str
    ncv: Decimal | None
    ncv_unit: str | None
    carbon_content: Decimal | None
    oxidation: Decimal | None
    guideline: str | None
    source: str
    document: str
    data_year: int | None
    published: date
    region: str
    valid_from: date
    valid_to: date | None
    verify: bool

    def cite(self) -> FactorRef:
        return FactorRef(
            id=self.id,
            version=self.version,
            value=self.value,
            unit=self.unit,
            source=self.source,
            document=self.document,
            data_year=self.data_year,
            published=self.published,
            region=self.region,
            verify=self.verify,
        )

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def latest_published(candidates: Iterable[Factor], as_of: date) -> Factor | None:
    """The library's rule: of the candidates published by ``as_of``, the latest data year,
    then the highest version."""
    published = [f for f in candidates if f.published <= as_of]
    return max(published, key=lambda f: (f.data_year or 0, f.version), default=None)


@dataclass(frozen=True)
class MeasuredNcv:
    fuel: str
    valid_from: date
    valid_to: date | None
    ncv: Decimal
    ncv_unit: str
    source: str


@dataclass(frozen=True)
class Selection:
    """The factors for one carrier in one enterprise-month, per activity unit (exact)."""

    carrier: str
    tco2_per_unit: Fraction | None
    factors: tuple[FactorRef, ...]  # the emission factor first, then what it was built with
    formula: str
    tce_equivalent: Fraction | None = None
    tce_equal: Fraction | None = None
    tce_factors: tuple[FactorRef, ...] = ()
    tce_formula: str = ""
    measured_ncv: str | None = None  # source of a measured NCV that replaced the default

    @property
    def factor_id(self) -> str | None:
        return "+".join(f.ref for f in self.factors) or None

    @property
    def tce_factor_ids(self) -> str | None:
        return "+".join(f.ref for f in self.tce_factors) or None


@dataclass
class FactorLibrary:
    """The loaded factors (:func:`accounts.ledger._read.load_library`), and the policy's choices
    among them."""

    factors: list[Factor]
    settings: AccountsSettings = field(default_factory=AccountsSettings)
    # select()'s results by what they depend on (accounts.ledger._compute.select_all): the
    # library and settings are fixed for the object's life, so enterprises share them
    selected: dict[tuple[object, ...], Selection] = field(
        default_factory=dict, repr=False, compare=False
    )
    # id(selection) -> (the selection, its factor_selection columns): a live cycle writes a row
    # per enterprise, month and carrier, from the few selections the enterprises share
    # (accounts.ledger._store); the selection is held so that its id stays its own
    stored: dict[int, tuple[Selection, tuple[object, ...]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def grid(
        self, year: int, as_of: date, series: str | None = None, region: str | None = None
    ) -> Factor:
        """The grid factor of ``series`` (default the policy's) for ``year``; an average factor
        is the ``region``'s (default the policy's), others are national."""
        s = self.settings
        series = series or s.grid_series
        region = (region or s.region) if series == "average" else "national"
        found = latest_published(
            (
                f
                for f in self.factors
                if f.kind == "grid"
                and f.series == series
                and f.region == region
                and (f.data_year or 0) <= year
            ),
            as_of,
        )
        if found is None:
            raise AccountsError(
                f"no {series} grid factor for {region} with data year <= {year} published by"
                f" {as_of}"
            )
        return found

    def one(self, kind: str, subject: str, series: str, day: date, as_of: date) -> Factor:
        found = latest_published(
            (
                f
                for f in self.factors
                if f.kind == kind
                and f.subject == subject
                and f.series == series
                and f.valid_on(day)
                and (f.data_year is None or f.data_year <= day.year)
            ),
            as_of,
        )
        if found is None:
            raise AccountsError(f"no {kind} factor {subject}/{series} valid on {day}")
        return found

    def fuel(self, subject: str, guideline: str, day: date, as_of: date) -> Factor:
        for name in dict.fromkeys((guideline, "general")):
            found = latest_published(
                (
                    f
                    for f in self.factors
                    if f.kind == "fuel"
                    and f.subject == subject
                    and f.guideline == name
                    and f.valid_on(day)
                ),
                as_of,
            )
            if found is not None:
                return found
        raise AccountsError(f"no default NCV for {subject} valid on {day}")


def guideline_for(industry_code: str, settings: AccountsSettings) -> str:
    return settings.guideline_by_division.get(industry_code[:2], "general")


def _per_unit(value: Decimal, unit: str, table: dict[str, int]) -> Fraction:
    return Fraction(value) / table[unit]


def select(
    library: FactorLibrary,
    *,
    carrier: str,
    month: date,
    as_of: date,
    industry_code: str,
    measured: Sequence[MeasuredNcv] = (),
    meter_id: str | None = None,
) -> Selection:
    """The factors for ``carrier`` in the enterprise-month ``month`` (computed on ``as_of``)."""
    s = library.settings
    if carrier in ELECTRIC:
        residual = s.green_power == "residual"
        grid = library.grid(month.year, as_of, "excluding_market_non_fossil" if residual else None)
        equivalent = library.one("tce", "electricity", "equivalent", month, as_of)
        equal = _equal_value(library, month, as_of)
        return Selection(
            carrier,
            Fraction(grid.value) / 1000,
            (grid.cite(),),
            f"kWh x {grid.value} tCO2/MWh / 1000",
            _per_unit(equivalent.value, equivalent.unit, TCE_PER_UNIT),
            _per_unit(equal.value, equal.unit, TCE_PER_UNIT),
            (equivalent.cite(), equal.cite()),
            f"kWh x {equivalent.value} (当量值) or {equal.value} (等价值) kgce/kWh / 1000",
        )
    if carrier in FUELS:
        return _fuel(
            library,
            carrier=carrier,
            month=month,
            as_of=as_of,
            guideline=guideline_for(industry_code, s),
            measured=measured,
        )
    if carrier == "heat":
        heat = library.one("heat", "heat", "default", month, as_of)
        tce = library.one("tce", "heat", "default", month, as_of)
        per = _per_unit(tce.value, tce.unit, TCE_PER_UNIT)
        return Selection(
            carrier,
            Fraction(heat.value),
            (heat.cite(),),
            f"GJ x {heat.value} tCO2/GJ",
            per,
            per,
            (tce.cite(),),
            f"GJ x {tce.value} tce/GJ",
        )
    if carrier == "steam":
        return _steam(library, month, as_of, meter_id)
    return Selection(carrier, None, (), "measured (CEMS): not a factor-based figure")


def _equal_value(library: FactorLibrary, month: date, as_of: date) -> Factor:
    candidates = [
        f
        for f in library.factors
        if f.kind == "tce"
        and f.subject == "electricity"
        and f.series == "equal"
        and (f.data_year or 0) <= month.year
        and f.published <= as_of
    ]
    if not candidates:
        raise AccountsError(f"no electricity 等价值 for {month.year} or earlier")
    return max(candidates, key=lambda f: (f.data_year or 0, f.version))


def _fuel(
    library: FactorLibrary,
    *,
    carrier: str,
    month: date,
    as_of: date,
    guideline: str,
    measured: Sequence[MeasuredNcv],
) -> Selection:
    default = library.fuel(carrier, guideline, month, as_of)
    assert default.ncv is not None and default.ncv_unit is not None  # noqa: S101 - fuels have them
    assert default.carbon_content is not None and default.oxidation is not None  # noqa: S101
    own = next(
        (
            m
            for m in measured
            if m.fuel == carrier
            and m.valid_from <= month
            and (m.valid_to is None or month <= m.valid_to)
        ),
        None,
    )
    ncv, ncv_unit = (own.ncv, own.ncv_unit) if own else (default.ncv, default.ncv_unit)
    per = fuel_tco2_per_unit(ncv, ncv_unit, default.carbon_content, default.oxidation)
    unit = "Nm3" if ncv_unit == "GJ/10^4Nm3" else "t"
    per_label = " / 10^4" if ncv_unit == "GJ/10^4Nm3" else ""
    ncv_label = f"NCV {ncv} {ncv_unit}" + (f" (measured: {own.source})" if own else "")
    formula = (
        f"{unit}{per_label} x {ncv_label} x CC {default.carbon_content} tC/TJ x OF"
        f" {default.oxidation} x 44/12 / 1000"
    )
    if own:
        tce = Fraction(ncv) / NCV_PER_UNIT[ncv_unit] / GJ_PER_TCE
        tce_refs: tuple[FactorRef, ...] = ()
        tce_formula = f"{unit} x measured NCV {ncv} {ncv_unit}{per_label} / 29.307 GJ/tce"
    else:
        coefficient = library.one("tce", carrier, _TCE_SERIES[carrier], month, as_of)
        tce = _per_unit(coefficient.value, coefficient.unit, TCE_PER_UNIT)
        tce_refs = (coefficient.cite(),)
        scale = " / 1000" if coefficient.unit == "kgce/Nm3" else ""
        tce_formula = f"{unit} x {coefficient.value} {coefficient.unit}{scale}"
    return Selection(
        carrier,
        per,
        (default.cite(),),
        formula,
        tce,
        tce,
        tce_refs,
        tce_formula,
        own.source if own else None,
    )


_TCE_SERIES = {"natural_gas": "gas_field", "diesel": "default"}


def _steam(library: FactorLibrary, month: date, as_of: date, meter_id: str | None) -> Selection:
    heat = library.one("heat", "heat", "default", month, as_of)
    reference = library.one("steam", "steam", "reference", month, as_of)
    configured = library.settings.steam_enthalpy.get(meter_id or "")
    refs = [heat.cite(), reference.cite()]
    if configured is None:
        default = library.one("steam", "steam", "enthalpy", month, as_of)
        enthalpy = default.value
        refs.append(default.cite())
        where = "default"
    else:
        enthalpy, where = configured, f"accounts.steam_enthalpy[{meter_id}]"
    gj_per_t = (Fraction(enthalpy) - Fraction(reference.value)) / 1000
    tce = library.one("tce", "steam", "low_pressure", month, as_of)
    per_tce = _per_unit(tce.value, tce.unit, TCE_PER_UNIT)
    return Selection(
        "steam",
        gj_per_t * Fraction(heat.value),
        tuple(refs),
        f"t x ({enthalpy} kJ/kg ({where}) - {reference.value}) / 1000 GJ/t x {heat.value} tCO2/GJ",
        per_tce,
        per_tce,
        (tce.cite(),),
        f"t x {tce.value} kgce/kg",
    )
