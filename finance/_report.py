"""The financed-emissions section of a bank's environmental disclosure (JR/T 0227-2021).

金融机构环境信息披露指南 asks a bank to disclose the environmental impact of its lending
(投融资活动的环境影响: the carbon emissions of financed entities) and its exposure to high-carbon
assets (高碳资产风险敞口); the city's pilot plan adds 持有资产碳足迹 and the use of carbon
performance in credit decisions. The section is built from a :class:`~finance.Book` only, so
every number in it has a loan-level derivation (``carbonledger finance explain``). Three forms:
JSON (the structure), CSV (one figure a line) and a printable HTML page (inline CSS, no script,
no external asset: it prints and renders offline).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from html import escape
from typing import Any

from finance._model import Book, Exposure

STANDARD = "JR/T 0227-2021 金融机构环境信息披露指南"
SOURCES = (
    "PCAF Global GHG Accounting and Reporting Standard Part A (business loans)",
    "JR/T 0227-2021 金融机构环境信息披露指南 (投融资活动的环境影响, 高碳资产风险敞口)",
    "TCFD: weighted average carbon intensity (WACI)",
    "DB33/T 1347-2023 / Huzhou 碳效码 grades and levels; 两高 per the platform's policy",
)


def _exposure(e: Exposure) -> dict[str, Any]:
    return {
        "key": e.key,
        "loans": e.loans,
        "outstanding_yuan": str(e.outstanding_yuan),
        "share": str(e.share),
        "financed_tco2": str(e.financed_tco2),
    }


def disclosure(book: Book, bank_name: str | None = None) -> dict[str, Any]:
    """The section as JSON-ready data, in the guideline's order."""
    m = book.metrics
    green = sum((e.outstanding_yuan for e in m.green), Decimal(0))
    worsened = [f for f in book.loans if f.worsened]
    grade45 = [e for e in m.by_grade if e.key in ("4", "5")]
    return {
        "standard": STANDARD,
        "section": "投融资活动的环境影响 — financed emissions and high-carbon exposure",
        "institution": {"bank_id": book.bank_id, "name": bank_name or book.bank_id},
        "reporting_year": book.year,
        "as_of": book.as_of.isoformat(),
        "financing_overview": {
            "title": "投融资情况 (lending covered)",
            "loans": m.loans,
            "outstanding_yuan": str(m.outstanding_yuan),
            "green_loans_outstanding_yuan": str(green),
            "green_loans_by_product": [_exposure(e) for e in m.green],
        },
        "financed_emissions": {
            "title": "投融资活动碳排放 / 持有资产碳足迹 (financed emissions)",
            "scope1_tco2": str(m.financed_scope1_tco2),
            "scope2_tco2": str(m.financed_scope2_tco2),
            "total_tco2": str(m.financed_tco2),
            "exact": m.exact,
            "economic_intensity_tco2_per_million_yuan": _text(m.intensity_tco2_per_million_yuan),
            "waci_tco2_per_million_yuan_revenue": _text(m.waci_tco2_per_million_revenue),
            "covered_outstanding_yuan": str(m.covered_outstanding_yuan),
            "coverage": str(m.coverage),
        },
        "high_carbon_exposure": {
            "title": "高碳资产风险敞口 (exposure to high-carbon assets)",
            "two_high": _exposure(m.two_high),
            "high_carbon_industries": _exposure(m.high_carbon_industries),
            "grades_4_5": [_exposure(e) for e in grade45],
            "by_grade": [_exposure(e) for e in m.by_grade],
            "by_level": [_exposure(e) for e in m.by_level],
            "by_colour": [_exposure(e) for e in m.by_colour],
        },
        "carbon_performance": {
            "title": "碳表现与信贷管理 (loans whose borrower's grade worsened since origination)",
            "watchlist": [
                {
                    "loan_id": f.loan_id,
                    "borrower_credit_code": f.borrower_credit_code,
                    "outstanding_yuan": str(f.outstanding_yuan),
                    "grade_at_origination": f.grade_at_origination,
                    "origination_grade_year": f.origination_grade_year,
                    "grade": f.grade,
                }
                for f in worsened
            ],
        },
        "data_quality": {
            "title": "数据质量 (PCAF data-quality score, 1 best .. 5 worst)",
            "weighted_score": _text(m.weighted_score),
            "scores": [_exposure(e) for e in m.scores],
            "loans_without_figure": [_exposure(e) for e in m.by_status if e.key != "computed"],
        },
        "method": {"text": book.method, "sources": list(SOURCES)},
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def disclosure_csv(section: dict[str, Any]) -> str:
    """One figure a line: section, item, key, value (CSV UTF-8 with a header)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "item", "key", "loans", "outstanding_yuan", "share", "value"])
    for row in _csv_rows(section):
        writer.writerow(row)
    return out.getvalue()


def _csv_rows(section: dict[str, Any]) -> Iterator[list[Any]]:
    yield ["report", "bank_id", "", "", "", "", section["institution"]["bank_id"]]
    yield ["report", "reporting_year", "", "", "", "", section["reporting_year"]]
    yield ["report", "as_of", "", "", "", "", section["as_of"]]
    for name in ("financing_overview", "financed_emissions", "high_carbon_exposure",
                 "carbon_performance", "data_quality"):  # fmt: skip
        for item, value in section[name].items():
            if item == "title":
                continue
            entries = [value] if isinstance(value, dict) else value
            if isinstance(entries, list):
                for e in entries:
                    if "key" in e:
                        yield [name, item, e["key"], e["loans"], e["outstanding_yuan"],
                               e["share"], e["financed_tco2"]]  # fmt: skip
                    else:
                        yield [name, item, e["loan_id"], 1, e["outstanding_yuan"], "",
                               f"grade {e['grade_at_origination']} -> {e['grade']}"]  # fmt: skip
            else:
                yield [name, item, "", "", "", "", value]


_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC",sans-serif;margin:2em auto;
max-width:52em;color:#111;line-height:1.4;font-size:14px}
h1{font-size:1.45em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .3em;
border-bottom:2px solid #1d5e3a;padding-bottom:.2em}
.meta{color:#444}.big{font-size:1.6em;font-weight:700;color:#1d5e3a}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{text-align:left;padding:.25em .5em;border-bottom:1px solid #ccc}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:.8em;background:#1d5e3a;vertical-align:middle}
.note{font-size:.85em;color:#555}
@media print{body{margin:0;font-size:11px}h2{page-break-after:avoid}}
"""


def _fmt(value: Any, places: int = 3) -> str:
    """A figure for people: rounded half-even once, thousands separated."""
    if value is None or value == "":
        return "—"
    number = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"{number:,}"


def _table(rows: list[dict[str, Any]], label: str) -> str:
    head = (
        f"<tr><th>{escape(label)}</th><th class=n>loans</th><th class=n>outstanding (元)</th>"
        "<th class=n>share</th><th></th><th class=n>financed tCO2</th></tr>"
    )
    body = "".join(
        f"<tr><td>{escape(str(e['key']))}</td><td class=n>{e['loans']}</td>"
        f"<td class=n>{_fmt(e['outstanding_yuan'], 2)}</td>"
        f"<td class=n>{_fmt(Decimal(e['share']) * 100, 1)} %</td>"
        f'<td><span class=bar style="width:{_fmt(Decimal(e["share"]) * 120, 0)}px"></span></td>'
        f"<td class=n>{_fmt(e['financed_tco2'])}</td></tr>"
        for e in rows
    )
    return f"<table>{head}{body}</table>"


def disclosure_html(section: dict[str, Any]) -> str:
    """The printable page: the section's figures, its tables and its method."""
    fo, fe = section["financing_overview"], section["financed_emissions"]
    hc, cp, dq = (
        section["high_carbon_exposure"],
        section["carbon_performance"],
        section["data_quality"],
    )
    inst = section["institution"]
    watch = (
        "".join(
            f"<tr><td>{escape(w['loan_id'])}</td><td>{escape(w['borrower_credit_code'])}</td>"
            f"<td class=n>{_fmt(w['outstanding_yuan'], 2)}</td>"
            f"<td class=n>{w['grade_at_origination']} ({w['origination_grade_year']})</td>"
            f"<td class=n>{w['grade']}</td></tr>"
            for w in cp["watchlist"]
        )
        or "<tr><td colspan=5>none</td></tr>"
    )
    title = f"{inst['name']} — financed emissions {section['reporting_year']}"
    body = f"""
<h1>{escape(title)}</h1>
<p class=meta>{escape(section["standard"])} · {escape(section["section"])}<br>
Book as of {escape(section["as_of"])} · bank {escape(inst["bank_id"])}</p>
<h2>1. {escape(fo["title"])}</h2>
<table><tr><th>loans</th><td class=n>{fo["loans"]}</td></tr>
<tr><th>outstanding (元)</th><td class=n>{_fmt(fo["outstanding_yuan"], 2)}</td></tr>
<tr><th>green loans outstanding (元)</th>
<td class=n>{_fmt(fo["green_loans_outstanding_yuan"], 2)}</td></tr></table>
{_table(fo["green_loans_by_product"], "green loans by product")}
<h2>2. {escape(fe["title"])}</h2>
<p><span class=big>{_fmt(fe["total_tco2"])} tCO2</span> financed
(scope 1 {_fmt(fe["scope1_tco2"])}, scope 2 {_fmt(fe["scope2_tco2"])})</p>
<table><tr><th>economic intensity (tCO2 per million 元 lent)</th>
<td class=n>{_fmt(fe["economic_intensity_tco2_per_million_yuan"], 4)}</td></tr>
<tr><th>WACI (tCO2 per million 元 borrower revenue)</th>
<td class=n>{_fmt(fe["waci_tco2_per_million_yuan_revenue"], 4)}</td></tr>
<tr><th>outstanding with a figure (元)</th><td class=n>{_fmt(fe["covered_outstanding_yuan"], 2)}
({_fmt(Decimal(fe["coverage"]) * 100, 1)} %)</td></tr></table>
<h2>3. {escape(hc["title"])}</h2>
{_table([hc["two_high"], hc["high_carbon_industries"], *hc["grades_4_5"]], "exposure")}
{_table(hc["by_grade"], "carbon-efficiency grade")}
{_table(hc["by_level"], "level")}
<h2>4. {escape(cp["title"])}</h2>
<table><tr><th>loan</th><th>borrower</th><th class=n>outstanding (元)</th>
<th class=n>grade at origination</th><th class=n>grade now</th></tr>{watch}</table>
<h2>5. {escape(dq["title"])}</h2>
<p>outstanding-weighted score: <b>{_fmt(dq["weighted_score"], 2)}</b></p>
{_table(dq["scores"], "score")}
{_table(dq["loans_without_figure"], "no figure, because")}
<h2>6. Method</h2>
<p class=note>{escape(section["method"]["text"])}</p>
<ul class=note>{"".join(f"<li>{escape(s)}</li>" for s in section["method"]["sources"])}</ul>
"""
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>"
    )
