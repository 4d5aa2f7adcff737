"""Carbon accounts: factor library, ledger, carbon-efficiency codes (docs/accounts.md).

The registry and its imports live in :mod:`accounts.registry`; this package turns the rollups
into accounts:

- a factor library of data files (``accounts/ledger/factors/*.toml``) loaded into ``factors``;
- a policy (``[accounts]`` settings) choosing the factors for an enterprise-month;
- accounts per enterprise and period (GB/T 32150 structure, exact arithmetic), live ones
  refreshed by ``carbonledger accounts run``, months and years closed and recomputed with audit;
- grades (Huzhou bands, a Quzhou-style colour model) in ``grades``.
"""

from accounts.ledger._explain import Derivation, explain_account
from accounts.ledger._library import LoadReport, load_factors, read_library
from accounts.ledger._model import Account, GradeRecord, Line, Totals
from accounts.ledger._period import Period
from accounts.ledger._policy import Factor, FactorLibrary, latest_published
from accounts.ledger._render import top_emitters
from accounts.ledger._serve import stored_account
from accounts.ledger._store import (
    RefreshResult,
    close,
    get_account,
    grade_history,
    recompute,
    refresh_live,
)
from accounts.ledger._units import NCV_PER_UNIT, fuel_tco2_per_unit

__all__ = [
    "NCV_PER_UNIT",
    "Account",
    "Derivation",
    "Factor",
    "FactorLibrary",
    "GradeRecord",
    "Line",
    "LoadReport",
    "Period",
    "RefreshResult",
    "Totals",
    "close",
    "explain_account",
    "fuel_tco2_per_unit",
    "get_account",
    "grade_history",
    "latest_published",
    "load_factors",
    "read_library",
    "recompute",
    "refresh_live",
    "stored_account",
    "top_emitters",
]
