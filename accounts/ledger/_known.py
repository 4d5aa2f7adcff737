"""An enterprise's past months as its live accounts use them, kept across the service's cycles.

A live cycle recomputes the month to date, the rolling 12 months and the current year of every
changed enterprise, yet only the current month's activity changed: the past months' parts of
each line (:class:`~accounts.ledger._model.MonthPart`, rounded once each), their exact sums per
line and factor, and the economic figures of whole months are the same as last cycle. They are
kept here, per enterprise, with the service's cache of those months (:class:`Known.rows`, held
so that the rows' ids stay theirs): a cycle then adds the current month's integers to them.

What they were computed from is fixed while an entry lives: the rows (the service replaces its
cache's list when the months change, and :meth:`KnownMonths.remember` starts a new entry for a
new list), and the factor selections and economic data (the service calls
:meth:`KnownMonths.clear` when the factor library, enterprises, economic data, measured NCVs,
green purchases, meters or the day change).

The factor selections of the past months are written to ``factor_selection`` once per entry,
in the first refresh that commits (:meth:`KnownMonths.confirm`); later refreshes write the
current month's only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from accounts.ledger._compute import EconomicsKept, LineKey, LineSum, Parts, Selections
from accounts.ledger._inputs import MonthActivity
from accounts.ledger._period import Period


@dataclass
class Known:
    """One enterprise's kept past months (see the module docstring)."""

    rows: Sequence[MonthActivity]
    ids: frozenset[int]
    selections: Selections = field(default_factory=dict)  # every month's, the current one too
    parts: Parts = field(default_factory=dict)  # the rows' month parts
    # per period: how many of its rows are kept ones, and their lines' sums
    lines: dict[Period, tuple[int, dict[LineKey, LineSum]]] = field(default_factory=dict)
    economics: EconomicsKept = field(default_factory=dict)
    # the factor_selection rows of these months are committed (see KnownMonths.confirm): their
    # selections are the kept ones, so a refresh writes the current month's rows only
    selections_stored: bool = False


class KnownMonths:
    """The live service's :class:`Known` per enterprise."""

    def __init__(self) -> None:
        self._known: dict[str, Known] = {}
        self._written: list[Known] = []  # factor selections written, not yet committed

    def remember(self, code: str, rows: Sequence[MonthActivity]) -> None:
        """``rows``: the enterprise's cached past months (the very list the cache holds)."""
        known = self._known.get(code)
        if known is None or known.rows is not rows:
            self._known[code] = Known(rows, frozenset(map(id, rows)))

    def of(self, code: str) -> Known | None:
        return self._known.get(code)

    def clear(self) -> None:
        self._known.clear()
        self._written.clear()

    def written(self, known: Known) -> None:
        """``known``'s months' factor selections were written in the refresh under way."""
        self._written.append(known)

    def begin(self) -> None:
        """A refresh starts: what an earlier one wrote and did not commit is not stored."""
        self._written.clear()

    def confirm(self) -> None:
        """The refresh's transaction committed: its months' factor selections are stored."""
        for known in self._written:
            known.selections_stored = True
        self._written.clear()
