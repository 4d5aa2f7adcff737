"""Climate projects: the project library and its measured reductions (docs/projects.md).

- :mod:`projects.library`: declare, screen (the published criteria), admit, retire, drivers;
  every transition by a role that may make it, logged;
- :func:`reductions`: a project's measured reductions per month and year (generation, IPMVP
  option B/C with an exact OLS baseline, fuel switching), exact, with coverage and data-quality
  flags, live for the current month;
- :func:`disclosure`: the per-loan table a bank reports to the central bank's carbon emission
  reduction facility, for projects whose owner consented.

It reads the registry, the booked rollups, the ledger's factors, the API's consents and
finance's loans; it writes only its own tables. The API's routes call it.
"""

from projects import library
from projects._errors import (
    DeclarationError,
    MethodError,
    ProjectError,
    RoleError,
    TransitionError,
    UnknownProjectError,
)
from projects._model import Declaration, MeterRole, Method, MethodParams, Project, Stage, Transition
from projects._read import read_project, read_projects, read_transitions
from projects._result import Baseline, MonthReduction, Reductions
from projects.disclosure import Disclosure, disclosure
from projects.reductions import reductions
from projects.refresh import live_lines, refresh

__all__ = [
    "Baseline",
    "Declaration",
    "DeclarationError",
    "Disclosure",
    "MeterRole",
    "Method",
    "MethodError",
    "MethodParams",
    "MonthReduction",
    "Project",
    "ProjectError",
    "Reductions",
    "RoleError",
    "Stage",
    "Transition",
    "TransitionError",
    "UnknownProjectError",
    "disclosure",
    "library",
    "live_lines",
    "read_project",
    "read_projects",
    "read_transitions",
    "reductions",
    "refresh",
]
