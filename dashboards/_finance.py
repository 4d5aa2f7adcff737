"""The climate-finance cockpit (气候投融资可视化驾驶舱): every bank's book, for the bureau.

Its panels read ``loan_figures`` (each bank's newest book of the newest published year, as
``carbonledger finance publish`` computed it: PCAF attribution of every registered borrower,
the regulator's view) and ``loans`` (the books as reported, month over month).
"""

from __future__ import annotations

from dashboards._model import Dashboard, barchart, stat, table, timeseries

# the newest published year: what `finance publish` last wrote
_LATEST = "f.year = (SELECT max(year) FROM loan_figures)"

_TOTALS = stat(
    "Loans outstanding (元)",
    f"""
        SELECT coalesce(sum(f.outstanding_yuan), 0) AS "outstanding",
               coalesce(sum(f.outstanding_yuan) FILTER (WHERE f.green_category IS NOT NULL), 0)
                   AS "green"
        FROM loan_figures f WHERE {_LATEST}
    """,
    description="Every bank's newest book: all loans, and green loans (with a green category).",
    unit="none",
    decimals=0,
    width=12,
    height=4,
)

_FINANCED = stat(
    "Financed emissions (tCO2)",
    f"""
        SELECT coalesce(sum(f.financed_tco2), 0) AS "financed tCO2",
               coalesce(sum(f.outstanding_yuan) FILTER (WHERE f.status = 'computed'), 0)
                   / nullif(sum(f.outstanding_yuan), 0) AS "coverage"
        FROM loan_figures f WHERE {_LATEST}
    """,
    description="PCAF Part A: attribution factor x the borrower's scope 1 + 2 of its annual"
    " account; coverage is the share of outstanding with a figure.",
    decimals=3,
    width=12,
    height=4,
)

_GREEN_BY_PRODUCT = barchart(
    "Green loan balance by product (元)",
    f"""
        SELECT f.product AS "product", sum(f.outstanding_yuan) AS "outstanding"
        FROM loan_figures f WHERE {_LATEST} AND f.green_category IS NOT NULL
        GROUP BY 1 ORDER BY 2 DESC
    """,
    width=12,
)

_BY_GRADE = barchart(
    "Exposure by carbon-efficiency grade (元)",
    f"""
        SELECT coalesce(f.level || f.grade || '级', f.status) AS "grade",
               sum(f.outstanding_yuan) AS "outstanding", sum(f.financed_tco2) AS "financed tCO2"
        FROM loan_figures f WHERE {_LATEST}
        GROUP BY 1 ORDER BY 1
    """,
    description="By the borrower's grade and level of the year; loans without one by status.",
    width=12,
)

_BY_BANK = table(
    "Banks: financed emissions and high-carbon exposure",
    f"""
        SELECT b.name AS "bank", max(f.as_of) AS "book as of", count(*) AS "loans",
               sum(f.outstanding_yuan) AS "outstanding (元)",
               sum(f.financed_tco2) AS "financed tCO2",
               coalesce(sum(f.outstanding_yuan) FILTER (WHERE f.two_high), 0) AS "两高 (元)",
               coalesce(sum(f.outstanding_yuan) FILTER (WHERE f.high_carbon_industry), 0)
                   AS "high-carbon industries (元)",
               coalesce(sum(f.outstanding_yuan) FILTER (WHERE f.grade >= 4), 0)
                   AS "grades 4-5 (元)"
        FROM loan_figures f JOIN banks b ON b.id = f.bank_id
        WHERE {_LATEST}
        GROUP BY b.name ORDER BY 5 DESC NULLS LAST
    """,
    width=24,
)

_QUALITY = barchart(
    "Data quality: PCAF score (元 outstanding)",
    f"""
        SELECT coalesce('score ' || f.score, f.status) AS "score",
               sum(f.outstanding_yuan) AS "outstanding"
        FROM loan_figures f WHERE {_LATEST}
        GROUP BY 1 ORDER BY 1
    """,
    description="1 verified, 2 metered, 3 partly estimated activity or assets-based attribution,"
    " 4 revenue-based attribution; loans without a figure by status.",
    width=12,
)

_WATCHLIST = table(
    "Watchlist: borrower's grade worsened since origination (信贷资金退出)",
    f"""
        SELECT b.name AS "bank", f.loan_id AS "loan", e.name AS "borrower",
               f.outstanding_yuan AS "outstanding (元)", f.level || f.grade || '级' AS "grade now"
        FROM loan_figures f JOIN banks b ON b.id = f.bank_id
        JOIN enterprises e ON e.code = f.borrower_credit_code
        WHERE {_LATEST} AND f.worsened
        ORDER BY f.outstanding_yuan DESC, f.loan_id
        LIMIT 200
    """,
    width=12,
)

_BOOKS_OVER_TIME = timeseries(
    "Loan books over time (元 outstanding)",
    """
        SELECT l.as_of::timestamptz AS "time",
               sum(l.outstanding_yuan) AS "all loans",
               coalesce(sum(l.outstanding_yuan) FILTER (WHERE l.green_category IS NOT NULL), 0)
                   AS "green loans"
        FROM loans l
        WHERE $__timeFilter(l.as_of::timestamptz)
        GROUP BY 1
        ORDER BY 1
    """,
    description="Every bank's books as reported at each as-of date (month over month).",
    width=24,
)

FINANCE = Dashboard(
    uid="carbonledger-finance",
    title="Climate-finance cockpit",
    description="Banks' loan books: green loans, financed emissions, exposure by grade and 两高.",
    variables=(),
    time_from="now-1y",
    panels=(
        _TOTALS,
        _FINANCED,
        _GREEN_BY_PRODUCT,
        _BY_GRADE,
        _BY_BANK,
        _QUALITY,
        _WATCHLIST,
        _BOOKS_OVER_TIME,
    ),
)
