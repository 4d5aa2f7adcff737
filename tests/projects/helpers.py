"""Hand-built inputs of the project methods: factor rows as the library publishes them, and
projects with their meters, so each method's figures can be checked by hand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

from projects._factors import FactorRow
from projects._inputs import MeterMonth, ProjectInputs, ProjectMeter
from projects._model import MeterRole, Method, MethodParams, Project, Stage

OWNER = "91331100MA2A0000X1"

GRID_ZJ_2023 = FactorRow(
    "grid.zhejiang.2023", 1, "grid", "electricity", "average", Decimal("0.4974"), "tCO2/MWh",
    None, None, None, None, None, "MEE/NBS 2023 浙江", "生态环境部 国家统计局 公告2025年第47号",
    2023, date(2025, 12, 31), "zhejiang", date(2023, 1, 1), None,
)  # fmt: skip
GRID_ZJ_2022 = FactorRow(
    "grid.zhejiang.2022", 1, "grid", "electricity", "average", Decimal("0.5153"), "tCO2/MWh",
    None, None, None, None, None, "MEE/NBS 2022 浙江", "生态环境部 国家统计局 公告2024年第33号",
    2022, date(2024, 12, 31), "zhejiang", date(2022, 1, 1), None,
)  # fmt: skip
DIESEL = FactorRow(
    "fuel.diesel.general", 1, "fuel", "diesel", "default", Decimal("3.096"), "tCO2/t",
    Decimal("42.652"), "GJ/t", Decimal("20.2"), Decimal("0.98"), "general", "GB/T 32150 柴油",
    "GB/T 32150-2015 附录B", None, date(2015, 11, 19), "national", date(2016, 6, 1), None,
)  # fmt: skip
GAS = FactorRow(
    "fuel.natural-gas.general", 1, "fuel", "natural_gas", "default", Decimal("21.62"),
    "tCO2/10^4Nm3", Decimal("389.31"), "GJ/10^4Nm3", Decimal("15.3"), Decimal("0.99"), "general",
    "GB/T 32150 天然气", "GB/T 32150-2015 附录B", None, date(2015, 11, 19), "national",
    date(2016, 6, 1), None,
)  # fmt: skip
FACTORS = (GRID_ZJ_2022, GRID_ZJ_2023, DIESEL, GAS)
FULL_MONTH_31 = 31 * 86_400_000


def project(
    method: Method, params: MethodParams, meters: Mapping[str, MeterRole], **kw: object
) -> Project:
    values: dict[str, object] = {
        "id": "p-1", "owner_code": OWNER, "title": "test", "purpose": "mitigation",
        "area": "clean_energy", "subcategory": "solar", "location": "莲都区",
        "total_investment_yuan": Decimal("10000000"), "start_of_operation": date(2026, 1, 1),
        "expected_annual_tco2": Decimal("1200"), "method": method, "params": params,
        "meters": dict(meters), "stage": Stage.ADMITTED,
        "declared_at": datetime(2026, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    }  # fmt: skip
    values.update(kw)
    return Project.model_validate(values)


def inputs(
    p: Project,
    meters: Iterable[tuple[str, MeterRole, str, str]],
    activity: Iterable[tuple[str, date, Fraction | int | str]],
    as_of: datetime,
    *,
    drivers: Mapping[date, Fraction] | None = None,
    covered_ms: int = FULL_MONTH_31,
) -> ProjectInputs:
    return ProjectInputs(
        project=p,
        meters=[ProjectMeter(*m) for m in meters],
        activity=[
            MeterMonth(meter, month, Fraction(value), covered_ms, 0)
            for meter, month, value in activity
        ],
        drivers=dict(drivers or {}),
        factors=FACTORS,
        as_of=as_of,
    )
