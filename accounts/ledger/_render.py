"""Accounts and derivations as aligned text for people (``accounts show`` / ``explain``).

Presentation is the only place numbers are rounded for reading: tCO2 and tce to 3 decimals,
intensities and K to 4 (half-even); ``--json`` prints the stored figures unrounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal

import psycopg

from accounts.ledger._explain import Derivation, Term
from accounts.ledger._model import Account, GradeRecord, Line


def num(value: Decimal | None, places: int = 3) -> str:
    if value is None:
        return "-"
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"{q:,.{places}f}"


def table(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    """Rows as aligned columns (the first row is the header); ``right``: right-aligned columns."""
    if not rows:
        return []
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for index, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - _width(cell))
            cells.append(pad + cell if i in right else cell + pad)
        out.append("  " + "  ".join(cells).rstrip())
        if index == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if ord(ch) >= 0x1100 and not 0xFF61 <= ord(ch) <= 0xFFDC else 1 for ch in text)


def header(account: Account) -> list[str]:
    e, p = account.enterprise, account.period
    status = f"{account.status}, version {account.version}"
    if account.reason:
        status += f", {account.reason}"
    return [
        f"{e.name}  {e.code}",
        f"  industry {e.industry_code} (GB/T 4754)  district {e.district}"
        f"  size {e.size_class or '-'}",
        f"  period {p.label}  [{status}]",
        f"  data to {p.as_of:%Y-%m-%d %H:%M %z},"
        f" computed {account.computed_at:%Y-%m-%d %H:%M:%S %z}",
    ]


def _factor(line: Line) -> str:
    if not line.factors:
        return "(measured)" if line.role == "measured" else "-"
    first = line.factors[0]
    extra = f" +{len(line.factors) - 1}" if len(line.factors) > 1 else ""
    return f"{first.ref} {first.value} {first.unit}{extra}"


def _emission(line: Line) -> str:
    if line.tco2 is not None:
        return num(line.tco2)
    if line.tco2_avoided is not None:
        return f"({num(line.tco2_avoided)} avoided)"
    if line.tco2_measured is not None:
        return f"({num(line.tco2_measured)} measured)"
    return "-"


def render_account(account: Account) -> str:
    out = header(account)
    out += ["", "activity and emissions"]
    rows = [["meter", "carrier", "role", "scope", "activity", "unit", "tCO2", "tce 当量", "factor"]]
    for line in account.lines:
        rows.append(
            [
                line.meter_id,
                line.carrier,
                line.role,
                str(line.scope or "-"),
                num(line.activity),
                line.unit,
                _emission(line),
                num(line.tce_equivalent),
                _factor(line),
            ]
        )
    out += table(rows, right=(4, 6, 7))
    out += ["", "by carrier"]
    out += table(
        [["carrier", "role", "meters", "activity", "unit", "tCO2", "tce 当量"]]
        + [
            [
                c.carrier,
                c.role,
                str(c.meters),
                num(c.activity),
                c.unit,
                num(c.tco2),
                num(c.tce_equivalent),
            ]
            for c in account.by_carrier
        ],
        right=(2, 3, 5, 6),
    )
    t = account.totals
    out += ["", "totals (GB/T 32150)"]
    out += table(
        [
            ["item", "tCO2"],
            ["combustion", num(t.combustion)],
            ["process", num(t.process)],
            ["purchased electricity", num(t.purchased_electricity)],
            ["purchased heat and steam", num(t.purchased_heat)],
            ["exported electricity (-)", num(t.exported_electricity)],
            ["exported heat (-)", num(t.exported_heat)],
            ["green power zero-rated", num(t.green_power)],
            ["total", num(t.total)],
            ["  scope 1", num(t.scope1)],
            ["  scope 2 (net)", num(t.scope2)],
            ["own generation, avoided (memo)", num(t.own_generation_avoided)],
            ["CEMS measured (cross-check)", num(t.measured)],
        ],
        right=(1,),
    )
    out += [f"  energy: {num(t.tce_equivalent)} tce (当量值), {num(t.tce_equal)} tce (等价值)"]
    if account.two_high is not None:
        out += [f"  两高 flag: {'yes' if account.two_high else 'no'}"]
    e, i = account.economics, account.intensity
    out += ["", "economics and intensity"]
    out += table(
        [
            ["figure", "value", "unit", "basis"],
            ["value added", num(e.value_added.value, 2), "万元", e.value_added.basis],
            ["revenue", num(e.revenue.value, 2), "万元", e.revenue.basis],
            ["per value added", num(i.per_value_added, 4), "tCO2/万元", ""],
            ["per revenue", num(i.per_revenue, 4), "tCO2/万元", ""],
            ["per output", num(i.per_output, 4), f"tCO2/{i.output_unit or 'unit'}", ""],
        ],
        right=(1,),
    )
    out += ["", "carbon-efficiency code", *_grades(account.grades)]
    q = account.quality
    out += [
        "",
        f"data quality: coverage {float(q.coverage):.1%} of {q.meters} meters,"
        f" estimated {float(q.estimated_share):.1%}, offline {len(q.offline_meters)}"
        + (f" ({', '.join(q.offline_meters)})" if q.offline_meters else "")
        + (f", events {q.events}" if q.events else ""),
    ]
    if account.cross_check:
        c = account.cross_check
        out += [
            f"CEMS cross-check: measured {num(c.measured_tco2)} t vs calculated scope 1"
            f" {num(c.calculated_scope1_tco2)} t (difference {num(c.difference_tco2)} t)",
            f"  {c.note}",
        ]
    return "\n".join(out) + "\n"


def _grades(grades: Sequence[GradeRecord]) -> list[str]:
    if not grades:
        return ["  not graded (no economic data for the period)"]
    rows = [["model", "result", "L", "industry L", "K", "basis", "label"]]
    for g in grades:
        rows.append(
            [
                g.model_version,
                g.code_text,
                num(g.l_value, 4),
                num(g.industry_l, 4),
                num(g.k_value, 4),
                g.basis or "-",
                g.label,
            ]
        )
    return table(rows, right=(2, 3, 4))


def render_derivation(d: Derivation) -> str:
    a = d.account
    out = header(a)
    out += ["", "1. meters -> rollups (15-minute buckets) -> activity"]
    rows = [["meter", "quantity", "month", "buckets", "covered h", "activity", "unit"]]
    for line in a.lines:
        for part in line.months:
            rows.append(
                [
                    line.meter_id,
                    line.quantity,
                    f"{part.month:%Y-%m}",
                    "-" if part.buckets is None else str(part.buckets),
                    "-" if part.covered_ms is None else f"{part.covered_ms / 3_600_000:,.2f}",
                    num(part.activity),
                    line.unit,
                ]
            )
    out += table(rows, right=(3, 4, 5))
    if d.readings:
        out += [
            "",
            "   register readings (first and last usable in the period) -> delta x multiplier",
        ]
        rows = [["meter", "first", "last", "delta", "x mult", "= activity", "booked", "events"]]
        for r in d.readings:
            rows.append(
                [
                    r.meter_id,
                    f"{r.first_value:,.2f} @ {r.first_time:%m-%d %H:%M}",
                    f"{r.last_value:,.2f} @ {r.last_time:%m-%d %H:%M}",
                    f"{r.register_delta:,}",
                    f"{r.multiplier:,}",
                    num(r.delta_activity),
                    num(r.booked_activity),
                    ", ".join(f"{k} {n}" for k, n in r.events.items()) or "-",
                ]
            )
        out += table(rows, right=(3, 4, 5, 6))
        out += [
            "   (booked differs where an interval crosses the period's edges, or after a",
            "    rollover, reset or implausible jump: docs/analytics.md)",
        ]
    out += ["", "2. factors (value, source)"]
    seen: dict[str, str] = {}
    for line in a.lines:
        for f in [*line.factors, *line.tce_factors]:
            flag = "  (verify: single source)" if f.verify else ""
            year = f", data year {f.data_year}" if f.data_year else ""
            seen[f.ref] = (
                f"  {f.ref}: {f.value} {f.unit} — {f.source}; {f.document}{year},"
                f" published {f.published}, {f.region}{flag}"
            )
    out += list(seen.values()) or ["  none"]
    out += ["", "3. emissions and energy per line"]
    for line in a.lines:
        out.append(f"  {line.meter_id} {line.quantity} ({line.role}, scope {line.scope or '-'}):")
        out.append(f"    tCO2 = {line.formula or 'measured by CEMS'} = {_emission(line)}")
        if line.tce_formula:
            out.append(
                f"    tce  = {line.tce_formula} = {num(line.tce_equivalent)} (当量)"
                f" / {num(line.tce_equal)} (等价)"
            )
        if len(line.months) > 1:
            for part in line.months:
                emitted = (
                    f"{num(part.tco2_avoided)} tCO2 avoided"
                    if line.role == "own_generation"
                    else f"{num(part.tco2)} tCO2"
                )
                out.append(
                    f"      {part.month:%Y-%m}: {num(part.activity)} {line.unit} x"
                    f" {part.factor_id or '-'} -> {emitted}"
                )
    out += ["", "4. totals", *_terms(d.totals, 3)]
    out += ["", "5. economics and intensity", *_terms(d.intensities, 4)]
    out += ["", "6. L, industry L, K, grade"] + (_terms(d.grading, 4) or ["  not graded"])
    if d.industry:
        out += ["  industry members (same period):"]
        out += table(
            [["enterprise", "tCO2", "VA or revenue 万元"]]
            + [[m.code, num(m.tco2), num(m.denominator, 2)] for m in d.industry],
            right=(1, 2),
        )
    out += ["", f"rounding: {a.rounding}"]
    return "\n".join(out) + "\n"


def _terms(terms: Sequence[Term], places: int) -> list[str]:
    rows = [["figure", "value", "unit", "from"]]
    for t in terms:
        rows.append([t.name, num(t.value, places), t.unit, t.formula])
    return table(rows, right=(1,))


_TOP = """
SELECT a.enterprise_code, e.name, e.industry_code, a.tco2_total, a.coverage,
       g.grade, g.level, g.k_value, a.computed_at
FROM account_periods a
JOIN enterprises e ON e.code = a.enterprise_code
LEFT JOIN grades g ON g.enterprise_code = a.enterprise_code AND g.period_kind = a.period_kind
     AND g.period_start = a.period_start AND g.model = 'huzhou'
WHERE a.period_kind = 'mtd' AND a.status = 'live'
  AND a.period_start = (SELECT max(period_start) FROM account_periods WHERE period_kind = 'mtd')
ORDER BY a.tco2_total DESC, a.enterprise_code
LIMIT %s
"""


def top_emitters(conn: psycopg.Connection, limit: int = 5) -> list[str]:
    """The live month-to-date table: top emitters with their estimated grade."""
    rows = conn.execute(_TOP, (limit,)).fetchall()
    if not rows:
        return ["  (no live accounts yet: `carbonledger accounts run` fills them)"]
    body = [["enterprise", "name", "industry", "MTD tCO2", "coverage", "grade (estimate)", "K"]]
    for code, name, industry, tco2, coverage, grade, level, k, _ in rows:
        code_text = f"{level or ''}{grade}级" if grade else "not graded"
        body.append(
            [
                code.strip(),
                name,
                industry,
                num(tco2),
                f"{float(coverage):.0%}",
                code_text,
                num(k, 2),
            ]
        )
    return table(body, right=(3, 4, 6))
