"""Hand-built inputs of the project methods: factor rows as the library publishes them, and
projects with their meters, so each method's figures can be checked by hand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import psycopg

from accounts.ledger import Factor
from projects._inputs import MeterMonth, ProjectInputs, ProjectMeter
from projects._model import Declaration, MeterRole, Method, MethodParams, Project, Stage

OWNER = "91331100MA2A0000X1"

GRID_ZJ_2023 = Factor(
    "grid.zhejiang.2023", 1, "grid", "electricity", "average", Decimal("0.4974"), "tCO2/MWh",
    None, None, None, None, None, "MEE/NBS 2023 浙江", "生态环境部 国家统计局 公告2025年第47号",
    2023, date(2025, 12, 31), "zhejiang", date(2023, 1, 1), None, False,
)  # fmt: skip
GRID_ZJ_2022 = Factor(
    "grid.zhejiang.2022", 1, "grid", "electricity", "average", Decimal("0.5153"), "tCO2/MWh",
    None, None, None, None, None, "MEE/NBS 2022 浙江", "生态环境部 国家统计局 公告2024年第33号",
    2022, date(2024, 12, 31), "zhejiang", date(2022, 1, 1), None, False,
)  # fmt: skip
DIESEL = Factor(
    "fuel.diesel.general", 1, "fuel", "diesel", "default", Decimal("3.096"), "tCO2/t",
    Decimal("42.652"), "GJ/t", Decimal("20.2"), Decimal("0.98"), "general", "GB/T 32150 柴油",
    "GB/T 32150-2015 附录B", None, date(2015, 11, 19), "national", date(2016, 6, 1), None, False,
)  # fmt: skip
GAS = Factor(
    "fuel.natural-gas.general", 1, "fuel", "natural_gas", "default", Decimal("21.62"),
    "tCO2/10^4Nm3", Decimal("389.31"), "GJ/10^4Nm3", Decimal("15.3"), Decimal("0.99"), "general",
    "GB/T 32150 天然气", "GB/T 32150-2015 附录B", None, date(2015, 11, 19), "national",
    date(2016, 6, 1), None, False,
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


# ---- a registered owner with the meters of a PV plant, a boiler retrofit and a fuel switch ----

METERS = (
    ("pv-1", "pv", "energy_generated", "kWh"),
    ("aux-1", "electricity", "energy_import", "kWh"),
    ("gas-1", "natural_gas", "gas_volume", "Nm3"),
    ("oil-1", "diesel", "diesel_mass", "t"),
    ("hp-1", "electricity", "energy_import", "kWh"),
)
OTHER = "91331102MA2A0DYE1X"


def register_owner(conn: psycopg.Connection) -> None:
    for code, name in ((OWNER, "丽水光伏能源有限公司"), (OTHER, "丽水瓯江印染有限公司")):
        conn.execute(
            "INSERT INTO enterprises (code, name, industry_code, district)"
            " VALUES (%s, %s, '4416', '莲都区')",
            (code, name),
        )
        conn.execute("INSERT INTO gateways (id, enterprise_code) VALUES (%s, %s)",
                     (f"gw-{code[-4:]}", code))  # fmt: skip
    for meter, carrier, quantity, unit in METERS:
        conn.execute(
            "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (meter, OWNER, f"gw-{OWNER[-4:]}", carrier, quantity, unit),
        )
    conn.execute(
        "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
        " VALUES ('dye-1', %s, %s, 'electricity', 'energy_import', 'kWh')",
        (OTHER, f"gw-{OTHER[-4:]}"),
    )


def rollup(
    conn: psycopg.Connection,
    meter: str,
    quantity: str,
    bucket: datetime,
    activity: str,
    *,
    covered_ms: int = 900_000,
) -> None:
    """One 15-minute rollup row (what the aggregator writes), ``activity`` in the unit."""
    fp = Decimal(activity).scaleb(4)
    conn.execute(
        "INSERT INTO rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp,"
        " covered_ms, estimated_ms, readings_good) VALUES (%s, %s, %s, %s, %s, %s, 0, 60)",
        (bucket, OWNER, meter, quantity, int(fp), covered_ms),
    )


def declaration(**kw: object) -> Declaration:
    values: dict[str, object] = {
        "id": "lishui-pv-01", "owner_code": OWNER, "title": "莲都工业园屋顶光伏",
        "purpose": "mitigation", "area": "clean_energy", "subcategory": "solar",
        "location": "莲都区", "total_investment_yuan": Decimal("8000000"),
        "start_of_operation": date(2026, 1, 1), "expected_annual_tco2": Decimal("1000"),
        "method": "generation", "params": {}, "meters": {"pv-1": "generation", "aux-1": "own_use"},
    }  # fmt: skip
    values.update(kw)
    return Declaration.model_validate(values)
