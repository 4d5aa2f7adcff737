"""Books, loans, trends and city totals as text for a person at a terminal (rounded once)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from finance._city import CityTotals
from finance._model import Book, Exposure, LoanFigure, Trend


def num(value: Decimal | None, places: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):,}"


def table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _exposures(title: str, exposures: list[Exposure]) -> list[str]:
    rows = [[title, "loans", "outstanding 元", "share", "financed tCO2"]]
    rows += [
        [e.key, str(e.loans), num(e.outstanding_yuan, 2), f"{num(e.share * 100, 1)} %",
         num(e.financed_tco2)]
        for e in exposures
    ]  # fmt: skip
    return ["", *table(rows)]


def render_book(book: Book) -> str:
    m = book.metrics
    out = [
        f"bank {book.bank_id}: book as of {book.as_of}, accounts of {book.year}",
        f"loans {m.loans}, outstanding {num(m.outstanding_yuan, 2)} 元"
        f" ({num(m.coverage * 100, 1)} % with a figure)",
        f"financed emissions {num(m.financed_tco2)} tCO2 (scope 1 {num(m.financed_scope1_tco2)},"
        f" scope 2 {num(m.financed_scope2_tco2)})",
        f"intensity {num(m.intensity_tco2_per_million_yuan, 4)} tCO2 per million 元 lent;"
        f" WACI {num(m.waci_tco2_per_million_revenue, 4)} tCO2 per million 元 revenue;"
        f" weighted data-quality score {num(m.weighted_score, 2)}",
        "",
    ]
    rows = [["loan", "borrower", "outstanding 元", "status", "AF", "financed tCO2", "score",
             "grade"]]  # fmt: skip
    for f in book.loans:
        rows.append(
            [
                f.loan_id, f.borrower_name or f.borrower_credit_code, num(f.outstanding_yuan, 2),
                f.status.value, num(f.attribution.factor, 6) if f.attribution else "-",
                num(f.financed_tco2), str(f.score or "-"),
                (f"{f.level or ''}{f.grade}" if f.grade else "-") + (" ↓" if f.worsened else ""),
            ]
        )  # fmt: skip
    out += table(rows)
    out += _exposures("data-quality score", m.scores)
    out += _exposures("grade", m.by_grade)
    out += _exposures("exposure", [m.two_high, m.high_carbon_industries])
    out += ["", "watchlist (grade worsened since origination): " + (", ".join(book.watchlist)
                                                                    or "none")]  # fmt: skip
    return "\n".join(out) + "\n"


def render_loan(figure: LoanFigure) -> str:
    return "\n".join(f"{i}. {step}" for i, step in enumerate(figure.steps, start=1)) + "\n"


def render_trend(months: list[Trend]) -> str:
    rows = [["as of", "outstanding 元", "financed tCO2", "change", "tCO2/million 元", "两高 share",
             "grade 4-5 share"]]  # fmt: skip
    rows += [
        [str(t.as_of), num(t.outstanding_yuan, 2), num(t.financed_tco2),
         num(t.change_financed_tco2), num(t.intensity_tco2_per_million_yuan, 4),
         f"{num(t.two_high_share * 100, 1)} %", f"{num(t.grade_45_share * 100, 1)} %"]
        for t in months
    ]  # fmt: skip
    return "\n".join(table(rows)) + "\n"


def render_city(totals: CityTotals) -> str:
    out = [
        f"city-wide, {totals.year}: {totals.loans} loans, outstanding"
        f" {num(totals.outstanding_yuan, 2)} 元, green {num(totals.green_outstanding_yuan, 2)} 元,"
        f" financed {num(totals.financed_tco2)} tCO2",
        "",
    ]
    rows = [["bank", "as of", "loans", "outstanding 元", "green 元", "financed tCO2"]]
    rows += [
        [b.bank_id, str(b.as_of), str(b.loans), num(b.outstanding_yuan, 2),
         num(b.green_outstanding_yuan, 2), num(b.financed_tco2)]
        for b in totals.banks
    ]  # fmt: skip
    out += table(rows)
    out += ["", "green loans by product:"]
    out += [f"  {k}: {num(v, 2)} 元" for k, v in totals.green_by_product.items()]
    out += ["outstanding by grade:"]
    out += [f"  {k}: {num(v, 2)} 元" for k, v in totals.by_grade.items()]
    return "\n".join(out) + "\n"
