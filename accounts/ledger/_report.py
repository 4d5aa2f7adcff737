"""The annual report of an enterprise in the GB/T 32150-2015 structure, as JSON or CSV.

GB/T 32150 section 8 (report content): reporting entity, period, boundary, emissions by
category (fuel combustion, process, purchased electricity and heat, exported electricity and
heat), activity data, emission factors with their sources, and the data quality; we add the
energy in tce, intensities, the carbon-efficiency code and the month-by-month totals.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from accounts.ledger._model import Account, Line


def _is(roles: tuple[str, ...], carriers: tuple[str, ...] = ()) -> Callable[[Line], bool]:
    return lambda line: line.role in roles and (not carriers or line.carrier in carriers)


_HEAT = ("steam", "heat")
CATEGORIES: tuple[tuple[str, str, Callable[[Line], bool]], ...] = (
    ("fuel_combustion", "燃料燃烧排放", _is(("combustion",))),
    ("process", "过程排放", _is(("process",))),
    (
        "purchased_electricity",
        "购入电力产生的排放",
        _is(("purchased", "green_power"), ("electricity",)),
    ),
    ("purchased_heat", "购入热力产生的排放", _is(("purchased",), _HEAT)),
    ("exported_electricity", "输出电力产生的排放", _is(("exported",), ("electricity", "pv"))),
    ("exported_heat", "输出热力产生的排放", _is(("exported",), _HEAT)),
)


def _item(line: Line) -> dict[str, Any]:
    return {
        "meter": line.meter_id,
        "source": line.source,
        "carrier": line.carrier,
        "activity": str(line.activity),
        "unit": line.unit,
        "tco2": None if line.tco2 is None else str(line.tco2),
        "factors": [f.ref for f in line.factors],
        "formula": line.formula,
    }


def annual_report(account: Account) -> dict[str, Any]:
    """The report as plain JSON-able data (numbers as decimal strings)."""
    body = account.model_dump(mode="json")
    categories = {}
    for key, title, wanted in CATEGORIES:
        lines = [line for line in account.lines if wanted(line)]
        total = sum((line.tco2 or Decimal(0) for line in lines), Decimal(0))
        if key.startswith("exported"):
            total = -total  # reported as a positive amount that is subtracted
        categories[key] = {"title": title, "tco2": str(total), "sources": [_item(x) for x in lines]}
    months: dict[str, Decimal] = defaultdict(Decimal)
    for line in account.lines:
        if line.tco2 is None:
            continue
        for part in line.months:
            months[f"{part.month:%Y-%m}"] += part.tco2 or Decimal(0)
    factors = {
        f.ref: f.model_dump(mode="json")
        for line in account.lines
        for f in [*line.factors, *line.tce_factors]
    }
    return {
        "standard": "GB/T 32150-2015 工业企业温室气体排放核算和报告通则",
        "reporting_entity": body["enterprise"],
        "reporting_period": body["period"],
        "status": account.status,
        "version": account.version,
        "computed_at": body["computed_at"],
        "boundary": {"meters": sorted({line.meter_id for line in account.lines})},
        "emissions": {
            **categories,
            "recovered": str(account.totals.recovered),
            "total": str(account.totals.total),
            "scope1": str(account.totals.scope1),
            "scope2": str(account.totals.scope2),
            "formula": "combustion + process + purchased electricity + purchased heat"
            " - exported electricity - exported heat - recovered",
        },
        "memo": {
            "own_generation_avoided_tco2": str(account.totals.own_generation_avoided),
            "cems_measured_tco2": body["totals"]["measured"],
            "cross_check": body["cross_check"],
            "monthly_tco2": {m: str(v) for m, v in sorted(months.items())},
        },
        "energy": {
            "tce_equivalent": str(account.totals.tce_equivalent),
            "tce_equal": str(account.totals.tce_equal),
            "two_high": account.two_high,
        },
        "economics": body["economics"],
        "intensity": body["intensity"],
        "carbon_efficiency": body["grades"],
        "emission_factors": factors,
        "data_quality": body["quality"],
        "rounding": account.rounding,
    }


CSV_COLUMNS = ("section", "item", "source", "carrier", "activity", "unit", "tco2", "factors")


def annual_report_csv(account: Account) -> str:
    """One row per source, then category totals, energy, intensity and grades."""
    report = annual_report(account)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    entity, period = report["reporting_entity"], report["reporting_period"]
    writer.writerow(
        ["entity", entity["code"], entity["name"], entity["industry_code"], "", "", "", ""]
    )
    writer.writerow(
        ["period", period["label"], account.status, f"version {account.version}", "", "", "", ""]
    )
    for key, _, _ in CATEGORIES:
        category = report["emissions"][key]
        for item in category["sources"]:
            writer.writerow(
                [
                    key,
                    item["meter"],
                    item["source"],
                    item["carrier"],
                    item["activity"],
                    item["unit"],
                    item["tco2"] or "",
                    "+".join(item["factors"]),
                ]
            )
        writer.writerow([key, "subtotal", category["title"], "", "", "", category["tco2"], ""])
    for key in ("total", "scope1", "scope2"):
        writer.writerow(["emissions", key, "", "", "", "", report["emissions"][key], ""])
    memo = report["memo"]
    writer.writerow(
        ["memo", "own_generation_avoided", "", "", "", "", memo["own_generation_avoided_tco2"], ""]
    )
    writer.writerow(["memo", "cems_measured", "", "", "", "", memo["cems_measured_tco2"] or "", ""])
    for month, value in memo["monthly_tco2"].items():
        writer.writerow(["monthly", month, "", "", "", "", value, ""])
    for key in ("tce_equivalent", "tce_equal"):
        writer.writerow(["energy", key, "", "", report["energy"][key], "tce", "", ""])
    for key, unit in (("per_value_added", "tCO2/万元"), ("per_revenue", "tCO2/万元")):
        writer.writerow(["intensity", key, "", "", report["intensity"][key] or "", unit, "", ""])
    for g in report["carbon_efficiency"]:
        result = g["colour"] or (g["grade"] if g["grade"] is not None else "")
        writer.writerow(
            [
                "grade",
                g["model_version"],
                g["label"],
                g["level"] or "",
                g["k_value"] or "",
                "K",
                "",
                str(result),
            ]
        )
    for ref, f in report["emission_factors"].items():
        writer.writerow(["factor", ref, f["source"], f["document"], f["value"], f["unit"], "", ""])
    return out.getvalue()
