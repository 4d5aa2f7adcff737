"""The live service's full refreshes, spread over ``accounts.spread_s`` instead of one cycle.

Some changes alter the inputs of every live account at once: the service's start, a new day, a
change of the registry, economic data, factor library, measured NCVs or green purchases, and the
periodic ``accounts.cache_ttl_s`` re-read. Refreshing every enterprise in the cycle that sees
them makes that cycle as long as ``accounts_cycle_s`` (minutes at a province), and every reading
committed meanwhile waits for it. Instead each enterprise is *owed* a refresh with a due time:
the enterprises of one such change get due times spread evenly over [T, T + spread_s) (T the
cycle that saw it), least recently refreshed first; a cycle refreshes the changed enterprises as
always plus every owed one that is due. An enterprise refreshed for any reason after T is paid
(every refresh reads the inputs as they are then), and an enterprise already owed keeps its
earlier due time when a second change comes, so:

    every live account reflects such a change by the end of the first cycle that starts at or
    after T + spread_s (``spread_s`` 0: the cycle that saw it, as before).

A cycle then refreshes about ``enterprises × cycle period / spread_s`` owed enterprises.
"""

from __future__ import annotations

from collections.abc import Iterable


class Owed:
    """Enterprises owed a refresh, with their due times (monotonic seconds)."""

    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._paid: dict[str, float] = {}  # when each was last refreshed

    def owe(self, codes: Iterable[str], now: float, spread_s: float) -> None:
        """Every one of ``codes`` is owed a refresh by ``now + spread_s``; codes not among them
        (left the registry, or another partition's now) are owed nothing."""
        codes = list(codes)
        due = {c: self._due[c] for c in codes if c in self._due}
        new = sorted((c for c in codes if c not in due),
                     key=lambda c: (self._paid.get(c, -float("inf")), c))  # fmt: skip
        for i, code in enumerate(new):
            due[code] = now + spread_s * i / len(new)
        self._due = due
        self._paid = {c: self._paid[c] for c in codes if c in self._paid}

    def due(self, now: float) -> set[str]:
        return {code for code, at in self._due.items() if at <= now}

    def paid(self, codes: Iterable[str], now: float) -> None:
        """``codes`` were refreshed by a cycle that started at ``now``."""
        for code in codes:
            self._due.pop(code, None)
            self._paid[code] = now

    def clear(self) -> None:
        self._due.clear()

    def __len__(self) -> int:
        return len(self._due)
