"""The climate project library (气候投融资项目库) for the bureau: projects by category and
stage, measured against expected reductions, and the financing they received.

Measured reductions come from ``project_reductions``, which ``carbonledger projects refresh``
keeps current (the methods are exact Python, not SQL); financing from finance's ``loans``, each
loan as last reported.
"""

from __future__ import annotations

from dashboards._model import Dashboard, barchart, stat, table, timeseries

_YEAR_START = "date_trunc('year', $__timeTo()::timestamptz AT TIME ZONE 'Asia/Shanghai')"

# Each loan as its bank last reported it (loans is one row per loan and as-of date).
_LATEST_LOANS = """
SELECT DISTINCT ON (bank_id, loan_id) bank_id, loan_id, project_id, committed_yuan,
       outstanding_yuan
FROM loans WHERE project_id IS NOT NULL
  AND as_of <= ($__timeTo()::timestamptz AT TIME ZONE 'Asia/Shanghai')::date
ORDER BY bank_id, loan_id, as_of DESC"""

_STAGES = stat(
    "Projects by stage",
    """
        SELECT count(*) FILTER (WHERE stage = 'declared') AS "declared",
               count(*) FILTER (WHERE stage = 'screened') AS "screened",
               count(*) FILTER (WHERE stage = 'admitted') AS "in the library",
               count(*) FILTER (WHERE stage = 'retired') AS "retired"
        FROM projects
    """,
    description="Declared, screened (criteria met), admitted into the library, retired.",
    width=12,
    height=4,
)

_YEAR = stat(
    "Library reductions this year",
    f"""
        SELECT coalesce(sum(r.reduction_tco2), 0) AS "measured tCO2",
               coalesce(sum(r.expected_tco2), 0) AS "expected tCO2"
        FROM project_reductions r
        WHERE r.month >= {_YEAR_START}
    """,
    description="Measured (metered, exact methods) and expected (declared annual, prorated)"
    " reductions of the projects in the library, this year so far.",
    unit="none",
    width=12,
    height=4,
)

_BY_CATEGORY = barchart(
    "Projects by category and stage",
    """
        SELECT p.area || ' / ' || p.subcategory AS "category",
               count(*) FILTER (WHERE p.stage = 'declared') AS "declared",
               count(*) FILTER (WHERE p.stage = 'screened') AS "screened",
               count(*) FILTER (WHERE p.stage = 'admitted') AS "in the library",
               count(*) FILTER (WHERE p.stage = 'retired') AS "retired"
        FROM projects p
        GROUP BY 1
        ORDER BY 1
    """,
    description="Taxonomy: the facility's areas (clean energy, energy saving, carbon reduction"
    " technology) and adaptation, with their sub-categories (projects/taxonomy.toml).",
    stacked=True,
    width=12,
)

_MONTHLY = timeseries(
    "Measured vs expected reductions by month",
    """
        SELECT (r.month::timestamp AT TIME ZONE 'Asia/Shanghai') AS "time",
               sum(r.reduction_tco2) AS "measured tCO2", sum(r.expected_tco2) AS "expected tCO2"
        FROM project_reductions r
        WHERE r.month >= ($__timeFrom()::timestamptz AT TIME ZONE 'Asia/Shanghai')::date
                         - interval '1 month'
          AND r.month < $__timeTo()::timestamptz AT TIME ZONE 'Asia/Shanghai'
        GROUP BY r.month
        ORDER BY 1
    """,
    description="Every project in the library; the current month is live (month to date).",
    unit="none",
    width=12,
)

_PROJECTS = table(
    "Projects: measured vs expected, financing",
    f"""
        SELECT p.id AS "project", e.name AS "owner", p.area AS "area", p.stage AS "stage",
               p.method AS "method", sum(r.reduction_tco2) AS "measured tCO2 (year)",
               sum(r.expected_tco2) AS "expected tCO2 (year)",
               min(r.coverage) AS "lowest coverage",
               p.total_investment_yuan AS "investment yuan",
               (SELECT coalesce(sum(l.committed_yuan), 0) FROM ({_LATEST_LOANS}) l
                WHERE l.project_id = p.id) AS "loans yuan"
        FROM projects p JOIN enterprises e ON e.code = p.owner_code
        LEFT JOIN project_reductions r ON r.project_id = p.id
             AND r.month >= {_YEAR_START}
        GROUP BY p.id, e.name
        ORDER BY p.stage, p.id
    """,
    width=24,
)

_FINANCING = barchart(
    "Financing received by area",
    f"""
        SELECT p.area AS "area", sum(p.total_investment_yuan) AS "investment yuan",
               coalesce(sum(f.committed), 0) AS "loans yuan"
        FROM projects p
        LEFT JOIN (SELECT l.project_id, sum(l.committed_yuan) AS committed
                   FROM ({_LATEST_LOANS}) l GROUP BY l.project_id) f ON f.project_id = p.id
        GROUP BY p.area
        ORDER BY 1
    """,
    description="Total investment declared, and the loans banks report against the projects.",
    width=24,
)

PROJECTS = Dashboard(
    uid="carbonledger-projects",
    title="Climate projects",
    description="The climate investment-and-financing project library: stages, measured"
    " reductions against expected, financing received.",
    time_from="now/y",
    panels=(_STAGES, _YEAR, _BY_CATEGORY, _MONTHLY, _PROJECTS, _FINANCING),
)
